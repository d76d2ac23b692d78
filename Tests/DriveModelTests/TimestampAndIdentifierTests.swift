import DriveModel
import Foundation
import Testing

@Suite("Timestamps and identifiers")
struct TimestampAndIdentifierTests {
    @Test("timestamps: ISO-8601 in UTC with microseconds and +00:00")
    func timestamps() {
        #expect(Timestamp.string(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000+00:00")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_764_480_000.5)) == "2025-11-30T05:20:00.500000+00:00")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 951_782_399.000_123)) == "2000-02-28T23:59:59.000123+00:00")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 253_402_300_799.25)) == "9999-12-31T23:59:59.250000+00:00")
        let now = Timestamp.now()
        #expect(now.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$"#, options: .regularExpression) != nil, "\(now)")
    }

    @Test("identifiers: version-7 uuids, lowercase, time-ordered, never repeated")
    func identifiers() {
        let at = Date(timeIntervalSince1970: 1_764_480_000.123)
        let ids = (0..<5000).map { _ in Identifiers.make(now: at) }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(100) {
            #expect(id.range(of: #"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"#, options: .regularExpression) != nil, "\(id)")
            // The first 48 bits are the milliseconds.
            #expect(id.hasPrefix("019ad334-207b"), "\(id)")
        }
        #expect(Identifiers.make(now: at) < Identifiers.make(now: at.addingTimeInterval(0.002)))
    }
}
