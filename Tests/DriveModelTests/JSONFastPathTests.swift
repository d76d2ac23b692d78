import Foundation
import Testing

@testable import DriveModel

/// The fast paths (byte parser, direct drive renderer) against the slow, obviously right ones.
@Suite("JSON fast paths")
struct JSONFastPathTests {
    // MARK: Parser

    @Test("parses every JSON type as Foundation's decoder did", arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        (" false ", .bool(false)),
        ("0", .int(0)),
        ("-12", .int(-12)),
        ("9223372036854775807", .int(.max)),
        ("1.0", .int(1)),
        ("1e3", .int(1000)),
        ("1.5", .double(1.5)),
        ("-2.5E-1", .double(-0.25)),
        ("99999999999999999999", .double(1e20)),
        (#""a\"b\\c\/\b\f\n\r\t""#, .string("a\"b\\c/\u{8}\u{c}\n\r\t")),
        (#""\u00e9\ud83d\ude00""#, .string("é😀")),
        ("\"é😀\"", .string("é😀")),
        ("[]", .array([])),
        ("[1, [2], {}]", .array([.int(1), .array([.int(2)]), .object([:])])),
        (#"{"a": 1, "a": 2, "b": [null]}"#, .object(["a": .int(2), "b": .array([.null])])),
        ("\t\r\n{ \"k\" : \"v\" }\n", .object(["k": .string("v")])),
    ])
    func parses(text: String, expected: JSONValue) throws {
        #expect(try JSONParser.parse(text) == expected)
        #expect(try JSONParser.parse(Array(text.utf8)) == expected)
    }

    @Test("refuses what is not JSON", arguments: [
        "", " ", "nul", "tru", "01", "-", "1.", ".5", "1e", "+1", "[1,]", "{\"a\":1,}", "{a:1}", "[1 2]", "{\"a\" 1}",
        "\"abc", "\"a\u{01}b\"", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00x\"", "[", "{", "1 2", "\"a\"x",
        "NaN", "Infinity", "1e999",
    ])
    func refuses(text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(text) }
    }

    @Test("refuses invalid UTF-8 and over-deep nesting")
    func refusesBytes() {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22] as [UInt8]) }
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0xFF, 0x22] as [UInt8]) }
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect((try? JSONParser.parse(fine)) != nil)
    }

    @Test("reads back what the writer renders")
    func roundTrip() throws {
        let value = JSONValue.object([
            "s": .string("quote \" backslash \\ nl \n ctl \u{1} é 😀"), "i": .int(-7), "d": .double(0.125),
            "a": .array([.null, .bool(true), .object([:])]), "o": .object(["x": .string("")]),
        ])
        #expect(try JSONParser.parse(value.jsonBytes) == value)
    }

    // MARK: Renderer

    static let license = License(id: 5, name: "msft_p73", longName: "Windows \"Server\"", type: "instance", userMetric: "smp", burstable: false)

    static var drives: [Drive] {
        let uuid = "6e3ebc6c-2dd3-4f4b-b3a5-5bb1d2c1e5d1"
        var plain = Drive(
            uuid: uuid, owner: "a1b2c3d4-0000-4000-8000-000000000001", name: "plain", size: 1_073_741_824, media: .disk,
            storageType: "dssd", status: .unmounted)
        var full = plain
        full.name = "ütf \"quoted\" \\ back\nslash\u{7}"
        full.allowMultimount = true
        full.affinities = ["ssd", "a\"b"]
        full.meta = ["zeta": "1", "alpha": "two", "Mid": "\u{0}"]
        full.iops = 1000
        full.licenses = [DriveLicense(amount: 2, license: license), DriveLicense(amount: 1, license: license)]
        full.jobs = ["j1", "j2"]
        full.mountedOn = ["s1"]
        full.tags = ["t1", "t2", "t3"]
        full.snapshots = ["snap"]
        full.status = .mounted
        var library = plain
        library.owner = nil
        library.media = .cdrom
        library.status = .creating
        library.storageType = "local_nvme"
        library.meta = ["only": "one"]
        plain.status = .cloningDestination
        return [plain, full, library] + DriveStatus.allCases.map { status in
            var d = full
            d.status = status
            return d
        }
    }

    @Test("the direct renderer writes detailJSON and shortJSON byte for byte")
    func rendererMatches() {
        for drive in Self.drives {
            var detail = JSONWriter()
            drive.writeDetail(into: &detail)
            #expect(String(decoding: detail.bytes, as: UTF8.self) == drive.detailJSON.jsonString)
            var short = JSONWriter()
            drive.writeShort(into: &short)
            #expect(String(decoding: short.bytes, as: UTF8.self) == drive.shortJSON.jsonString)
        }
    }

    @Test("list and objects envelopes match ListPage and objectsEnvelope")
    func envelopesMatch() {
        let drives = Self.drives
        var page = JSONWriter()
        page.listPage(limit: 20, offset: 40, totalCount: 12345) { $0.drives(drives) }
        let expected = ListPage(limit: 20, offset: 40, totalCount: 12345, objects: drives.map(\.detailJSON)).json
        #expect(String(decoding: page.bytes, as: UTF8.self) == expected.jsonString)
        var short = JSONWriter()
        short.listPage(limit: 0, offset: 0, totalCount: drives.count) { $0.drives(drives, detail: false) }
        let expectedShort = ListPage(limit: 0, offset: 0, totalCount: drives.count, objects: drives.map(\.shortJSON)).json
        #expect(String(decoding: short.bytes, as: UTF8.self) == expectedShort.jsonString)
        var empty = JSONWriter()
        empty.objectsEnvelope { _ in }
        #expect(String(decoding: empty.bytes, as: UTF8.self) == objectsEnvelope([]).jsonString)
    }
}
