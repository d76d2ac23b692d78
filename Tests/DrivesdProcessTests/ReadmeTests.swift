import DriveModel
import Foundation
import Testing

extension ProcessSuites {
    /// The README's examples, run as written: its shell blocks that talk to the daemon against a
    /// fresh `drivesd serve` on the default configuration, and its claims about the command line.
    @Suite("README examples", .serialized)
    struct ReadmeTests {
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()

        static func readme() throws -> String {
            try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        }

        /// The README's ```` ```sh ```` blocks, in order, each with the line it starts on.
        static func shellBlocks(_ text: String) -> [(line: Int, body: [String])] {
            var blocks: [(Int, [String])] = []
            var current: (Int, [String])?
            for (index, line) in text.components(separatedBy: "\n").enumerated() {
                if current != nil {
                    if line.hasPrefix("```") {
                        blocks.append(current!)
                        current = nil
                    } else {
                        current!.1.append(line)
                    }
                } else if line == "```sh" {
                    current = (index + 2, [])
                }
            }
            return blocks
        }

        /// A command spread over continuation lines (ending in `\\`) is one command: for each
        /// line, the range of lines of its command (0-based).
        static func commands(_ lines: [String]) -> [ClosedRange<Int>] {
            var ranges: [ClosedRange<Int>] = []
            var start = 0
            for (index, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).hasSuffix("\\") || index == lines.count - 1 {
                ranges += Array(repeating: start...index, count: index - start + 1)
                start = index + 1
            }
            return ranges
        }

        /// The status a command's comment names (`# 404 ...`, `# 206: ...`), on its last line.
        static func documentedStatus(_ line: String) -> Int? {
            guard let hash = line.range(of: " # ") ?? line.range(of: "\t# ") else { return nil }
            let comment = line[hash.upperBound...].trimmingCharacters(in: .whitespaces)
            let digits = comment.prefix { $0.isNumber }
            guard digits.count == 3, comment.dropFirst(3).first.map({ !$0.isLetter }) ?? true else { return nil }
            return Int(digits)
        }

        /// The blocks a user runs against the daemon: those that call curl.
        static func daemonBlocks() throws -> [(line: Int, body: [String])] {
            try shellBlocks(readme()).filter { block in block.body.contains { $0.contains("curl ") } }
        }

        @Test("every README shell block that talks to the daemon runs as written against a fresh daemon on the defaults; each command answers the status its comment names, or a 2xx")
        func shellBlocksRun() async throws {
            let blocks = try Self.daemonBlocks()
            // A session with curl, drive bytes, snapshots, change events, holding a create, named states.
            try #require(blocks.count == 6, "found \(blocks.count) blocks calling curl: \(blocks.map(\.line))")
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-readme-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }

            // `drivesd serve` as `swift run drivesd serve` runs it: in its own directory (the
            // database and data directory land there), with no configuration file and no
            // DRIVESD_ variable. Only the port differs: the README's 8730 may be taken on this
            // machine, so the daemon binds a free one and the blocks are pointed at it.
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DRIVESD_") }
            environment["HOME"] = work.path
            let portFile = work.appendingPathComponent("port").path
            let log = work.appendingPathComponent("serve.log").path
            let daemon = try ChildProcess(
                "/bin/sh", ["-c", "cd \"$0\" && exec \"$1\" serve --port 0 --port-file \"$2\"", work.path, try DaemonProcess.binary.path, portFile],
                environment: environment, output: .append(log), errors: .append(log))
            defer {
                if daemon.isRunning {
                    kill(daemon.pid, SIGKILL)
                    daemon.wait()
                }
            }
            var port = 0
            let deadline = Date().addingTimeInterval(60)
            while port == 0, Date() < deadline, daemon.isRunning {
                port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
                if port == 0 { try await Task.sleep(for: .milliseconds(20)) }
            }
            try #require(port != 0, "drivesd did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")

            // The drive bytes block uploads `disk.img`, "any raw disk image": 3 MiB of bytes.
            let image = Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 9) })
            try image.write(to: work.appendingPathComponent("disk.img"))

            // Every curl call is logged with the block's file, the line and the status answered.
            let calls = work.appendingPathComponent("calls").path
            var driver = """
                set -eo pipefail
                cd "\(work.path)"
                curl() {
                    local headers rc=0 status
                    headers="$(mktemp)"
                    command curl -D "$headers" "$@" || rc=$?
                    status="$(awk 'toupper($1) ~ /^HTTP\\// { code = $2 } END { print code }' "$headers")"
                    rm -f "$headers"
                    printf '%s %s %s %s\\n' "${BASH_SOURCE[1]##*/}" "${BASH_LINENO[0]}" "${status:-none}" "$rc" >> "\(calls)"
                    return $rc
                }

                """
            for (index, block) in blocks.enumerated() {
                let body = block.body.map { $0.replacingOccurrences(of: ":8730", with: ":\(port)") }.joined(separator: "\n")
                try (body + "\n").write(to: work.appendingPathComponent("block\(index).sh"), atomically: true, encoding: .utf8)
                driver += "echo \"### block \(index) (README.md line \(block.line))\"\nsource block\(index).sh\n"
            }
            driver += "echo '### all blocks ran'\n"
            try driver.write(to: work.appendingPathComponent("run.sh"), atomically: true, encoding: .utf8)
            let script = work.appendingPathComponent("run.sh").path
            let (status, output) = try await offPool {
                try ChildProcess.run("/usr/bin/timeout", ["-s", "KILL", "300", "/bin/bash", script], errors: true)
            }
            #expect(status == 0, "the README's blocks stopped with \(status):\n\(output.suffix(4000))")
            #expect(output.hasSuffix("### all blocks ran\n"), "\(output.suffix(2000))")

            // Each command answered what its comment says, or a 2xx.
            let logged = ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            var called = Set<Int>()
            for entry in logged {
                try #require(entry.count == 4, "\(entry)")
                guard let index = Int(entry[0].dropFirst("block".count).dropLast(".sh".count)), blocks.indices.contains(index),
                    let line = Int(entry[1]), (1...blocks[index].body.count).contains(line)
                else {
                    Issue.record("curl called from \(entry[0]) line \(entry[1])")
                    continue
                }
                called.insert(index)
                let lines = blocks[index].body
                let command = Self.commands(lines)[line - 1]
                let where_ = "README.md line \(blocks[index].line + command.lowerBound): \(lines[command.lowerBound].prefix(100))"
                #expect(entry[3] == "0", "curl failed (exit \(entry[3])) at \(where_)")
                let answered = Int(entry[2]) ?? 0
                if let documented = Self.documentedStatus(lines[command.upperBound]) {
                    #expect(answered == documented, "\(where_): answered \(entry[2]), the README says \(documented)")
                } else {
                    #expect((200..<300).contains(answered), "\(where_): answered \(entry[2])")
                }
            }
            #expect(called == Set(blocks.indices), "blocks that never reached the daemon: \(Set(blocks.indices).subtracting(called).sorted())")

            // What the blocks say they leave behind.
            #expect(try Data(contentsOf: work.appendingPathComponent("copy.img")) == image, "copy.img is not exactly the image")
            let saved = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { UUID(uuidString: $0) != nil }
            try #require(saved.count == 1, "the whole drive saved as <uuid>: \(saved)")
            let whole = work.appendingPathComponent(saved[0])
            #expect((try FileManager.default.attributesOfItem(atPath: whole.path)[.size] as? Int) == 536_870_912)
            let handle = try FileHandle(forReadingFrom: whole)
            #expect(try handle.read(upToCount: image.count) == image)
            try handle.close()
            try FileManager.default.removeItem(at: whole)
            let jar = (try? String(contentsOf: work.appendingPathComponent("jar"), encoding: .utf8)) ?? ""
            #expect(jar.contains("async_auth"), "the change events block got no async_auth cookie")

            kill(daemon.pid, SIGTERM)
            #expect(daemon.wait() == 0)
        }

        @Test("the README's command line: every subcommand and option it lists exists as written; check-config reports every problem, with the hint it quotes")
        func commandLine() throws {
            let text = try Self.readme()
            let section = try #require(text.components(separatedBy: "## Command line\n").dropFirst().first)
            let usage = try #require(section.components(separatedBy: "```").dropFirst().first)
            let lines = usage.split(separator: "\n").map(String.init).filter { $0.hasPrefix("drivesd ") }
            try #require(lines.count == 16, "\(lines)")
            let binary = try DaemonProcess.binary.path
            for line in lines {
                let words = line.split(separator: " ").map(String.init)
                let subcommand = Array(words.dropFirst().prefix { $0.first?.isLowercase == true && !$0.hasPrefix("-") })
                try #require(!subcommand.isEmpty, "\(line)")
                let options = Set(line.matches(of: /--[a-z][a-z-]*/).map { String($0.output) })
                let (code, help) = try ChildProcess.run(binary, subcommand + ["--help"], errors: true)
                #expect(code == 0, "drivesd \(subcommand.joined(separator: " ")) --help: \(code)")
                for option in options {
                    #expect(help.contains(option), "drivesd \(subcommand.joined(separator: " ")) has no \(option): \(help)")
                }
                // The placeholders given after the subcommand: as many positional arguments.
                let positional = words.dropFirst(1 + subcommand.count).prefix { $0.first?.isUppercase == true }
                let usageLine = help.split(separator: "\n").first { $0.hasPrefix("USAGE:") }.map(String.init) ?? ""
                let tokens = usageLine.split(separator: " ").map(String.init)
                let expectedPositional = tokens.indices.filter { tokens[$0].hasPrefix("<") && ($0 == 0 || !tokens[$0 - 1].contains("--")) }
                #expect(positional.count == expectedPositional.count, "\(line): \(usageLine)")
            }
            // `serve` is the default subcommand.
            let (_, top) = try ChildProcess.run(binary, ["--help"], errors: true)
            #expect(top.contains("serve (default)"), "\(top)")

            // check-config: "It lists every problem it finds, one per line: wrong types, values out
            // of range, unknown choices, and keys drivesd does not read. Typos get a hint, e.g.
            // `htpp.port: unknown key (did you mean http.port?)`. It exits 1 when it finds a problem."
            let claim = try #require(text.firstMatch(of: /Typos get a hint, e\.g\.\s+`([^`]+)`/)?.1)
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-cli-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            let file = work.appendingPathComponent("drivesd.yaml")
            try """
                htpp:
                  port: 9000
                http:
                  port: "9000"
                time_scale: -1
                storage:
                  default_type: tape
                log:
                  level: loud

                """.write(to: file, atomically: true, encoding: .utf8)
            let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DRIVESD_") }
            let (code, report) = try ChildProcess.run(binary, ["check-config", "--config", file.path], environment: environment, errors: true)
            #expect(code == 1)
            let problems = report.split(separator: "\n").filter { $0.hasPrefix("  - ") }.map { String($0.dropFirst(4)) }
            #expect(problems.count == 5, "\(report)")
            #expect(problems.contains(String(claim)), "\(report)")  // the key drivesd does not read, with its hint
            #expect(problems.contains("http.port must be an integer"), "\(report)")  // a wrong type
            #expect(problems.contains { $0.hasPrefix("time_scale must be a number between") }, "\(report)")  // out of range
            #expect(problems.contains { $0.hasPrefix("log.level must be one of") }, "\(report)")  // an unknown choice
            #expect(problems.contains { $0.hasPrefix("storage.default_type tape is not among storage.types") }, "\(report)")
            // "reads the file, the environment and the defaults the same way serve does"
            var loud = environment
            loud["DRIVESD_HTTP_PORT"] = "70000"
            let (envCode, envReport) = try ChildProcess.run(binary, ["check-config"], environment: loud, errors: true)
            #expect(envCode == 1)
            #expect(envReport.contains("http.port must be between 0 and 65535, got 70000"), "\(envReport)")
            let (okCode, okReport) = try ChildProcess.run(binary, ["check-config"], environment: environment, errors: true)
            #expect(okCode == 0)
            #expect(okReport.contains("configuration OK (defaults and environment)"), "\(okReport)")
            #expect(okReport.contains("listen: http://127.0.0.1:8730"), "\(okReport)")
        }
    }
}
