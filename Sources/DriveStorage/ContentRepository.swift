import DriveModel
import Foundation

/// The map of what drives hold (decision 17): each drive points at a content image, a map from
/// extent index to a stored extent; extents never written read as zeros and are not stored.
/// Images are immutable once sealed and shared by reference (a clone is one row, whatever the
/// size or the data). The bytes themselves live in files under the data directory
/// (`DriveContent.ContentDirectory`); this protocol is the database side.
public protocol ContentRepository: Sendable {
    /// Creates a drive in `uploading` with a new, unsealed image of `extentSize` extents.
    /// `single`: a single-request upload (deleted at start if a crash interrupted it).
    func beginUpload(owner: String, spec: DriveSpec, single: Bool, extentSize: Int64, now: Date) async throws -> UploadTarget
    /// The caller's drive `uuid` as an upload target (any status: callers check `status`); 404
    /// when it is not the caller's (a library drive: 403).
    func uploadTarget(owner: String, uuid: String) async throws -> UploadTarget
    /// Records extents written into an upload's image and the range they acknowledge, in one
    /// transaction; when the ranges cover the drive, the drive leaves `uploading` in the same
    /// transaction (grown to `minimumSize`). Throws 403 when the drive is no longer uploading.
    func recordUpload(_ write: UploadWrite, now: Date) async throws -> UploadProgress
    /// Deletes the drive of an upload that cannot finish (a single upload whose client went away).
    func abandonUpload(seq: Int64) async throws
    /// Stores an upload link for `range` of the caller's uploading drive (`do=upload_chunk`).
    func addUploadLink(owner: String, uuid: String, token: String, range: Range<Int64>, expires: Date) async throws
    /// The upload and range of link `token`, nil when unknown or expired.
    func uploadLink(token: String, now: Date) async throws -> (target: UploadTarget, range: Range<Int64>)?
    /// What a download reads: the caller's drive, its status and its image's extents.
    func readTarget(owner: String, uuid: String) async throws -> ReadTarget
    /// Whether image `id` still exists (a reader re-checks after taking its lease).
    func imageExists(_ id: Int64) async throws -> Bool
    /// Gives every library drive its generated image (a header naming it); `write` stores the
    /// extent file of a new image and answers what was stored. Returns how many were made.
    func ensureLibraryImages(write: @Sendable (_ image: Int64, _ uuid: String, _ name: String) throws -> StoredExtent) async throws -> Int
    /// Start-up clean-up: deletes the drives of interrupted single uploads. Returns their number.
    func removeInterruptedSingleUploads() async throws -> Int
    /// The ids of every image, for sweeps of the data directory.
    func imageIDs() async throws -> Set<Int64>
    /// Every stored extent, for `drivesd verify`.
    func storedExtents() async throws -> [StoredExtent]
    /// Logical, stored and shared bytes.
    func stats() async throws -> ContentStats
}

/// A drive receiving (or done receiving) an upload.
public struct UploadTarget: Sendable, Equatable {
    public var seq: Int64
    public var uuid: String
    public var owner: String
    public var status: DriveStatus
    public var size: Int64
    public var storageType: String
    /// Nil for a drive with no content (never uploaded to).
    public var image: Int64?
    public var extentSize: Int64
    /// Ranges written and acknowledged; empty once the upload completed (or for other drives).
    public var ranges: ByteRanges
    public var single: Bool
    /// The extents the image has rows for, while the upload runs.
    public var extents: Set<Int64>

    public init(
        seq: Int64, uuid: String, owner: String, status: DriveStatus, size: Int64, storageType: String, image: Int64?,
        extentSize: Int64, ranges: ByteRanges, single: Bool, extents: Set<Int64> = []
    ) {
        self.extents = extents
        self.seq = seq
        self.uuid = uuid
        self.owner = owner
        self.status = status
        self.size = size
        self.storageType = storageType
        self.image = image
        self.extentSize = extentSize
        self.ranges = ranges
        self.single = single
    }

    /// Whether every byte of `range` was written already (a completed drive: every range).
    public func hasWritten(_ range: Range<Int64>) -> Bool {
        status != .uploading || ranges.covers(range)
    }
}

/// One extent as stored: its file holds `length` bytes with `checksum` (SHA-256), nil while an
/// upload still writes into it.
public struct StoredExtent: Sendable, Equatable {
    public var image: Int64
    public var index: Int64
    public var length: Int64
    public var checksum: [UInt8]?

    public init(image: Int64, index: Int64, length: Int64, checksum: [UInt8]?) {
        self.image = image
        self.index = index
        self.length = length
        self.checksum = checksum
    }
}

/// What an upload request wrote: extents (new or grown), extents found to hold only zeros
/// (their rows and files go), and the range now acknowledged.
public struct UploadWrite: Sendable {
    public var seq: Int64
    public var image: Int64
    public var range: Range<Int64>
    public var extents: [StoredExtent]
    public var zeroExtents: [Int64]
    /// The storage type's minimum size: a completed upload grows to it.
    public var minimumSize: Int64
    /// A single upload writes the whole drive in one request: its size is what arrived.
    public var finalSize: Int64?

    public init(
        seq: Int64, image: Int64, range: Range<Int64>, extents: [StoredExtent], zeroExtents: [Int64], minimumSize: Int64,
        finalSize: Int64? = nil
    ) {
        self.seq = seq
        self.image = image
        self.range = range
        self.extents = extents
        self.zeroExtents = zeroExtents
        self.minimumSize = minimumSize
        self.finalSize = finalSize
    }
}

/// The state of an upload after a write.
public struct UploadProgress: Sendable {
    /// The ranges acknowledged so far.
    public var ranges: ByteRanges
    /// The drive left `uploading` with this write.
    public var completed: Bool
    public var drive: Drive?

    public init(ranges: ByteRanges, completed: Bool, drive: Drive?) {
        self.ranges = ranges
        self.completed = completed
        self.drive = drive
    }
}

/// A drive to read: its size, its image's extents (index → stored length), and whether the
/// state machine allows the read.
public struct ReadTarget: Sendable {
    public var uuid: String
    public var status: DriveStatus
    public var size: Int64
    public var storageType: String
    public var image: Int64?
    public var extentSize: Int64
    public var extents: [Int64: Int64]
    /// The SHA-256 recorded for each sealed extent (by index) when it was written.
    public var checksums: [Int64: [UInt8]] = [:]

    public init(
        uuid: String, status: DriveStatus, size: Int64, storageType: String, image: Int64?, extentSize: Int64,
        extents: [Int64: Int64]
    ) {
        self.uuid = uuid
        self.status = status
        self.size = size
        self.storageType = storageType
        self.image = image
        self.extentSize = extentSize
        self.extents = extents
    }
}

/// The figures of `GET /_drivesd/storage`.
public struct ContentStats: Sendable, Equatable {
    /// The sum of every drive's size: what the drives would take without sharing or sparseness.
    public var logicalBytes: Int64
    /// Bytes in extent files.
    public var storedBytes: Int64
    /// Stored bytes that more than one drive references (counted once).
    public var sharedBytes: Int64
    /// Extent files.
    public var pieces: Int64
    /// Content images.
    public var images: Int64

    public init(logicalBytes: Int64, storedBytes: Int64, sharedBytes: Int64, pieces: Int64, images: Int64) {
        self.logicalBytes = logicalBytes
        self.storedBytes = storedBytes
        self.sharedBytes = sharedBytes
        self.pieces = pieces
        self.images = images
    }
}

/// A set of byte ranges, merged: no two overlap or touch; sorted.
public struct ByteRanges: Sendable, Equatable, CustomStringConvertible {
    public private(set) var ranges: [Range<Int64>]

    public init(_ ranges: [Range<Int64>] = []) {
        self.ranges = []
        for range in ranges { insert(range) }
    }

    public mutating func insert(_ range: Range<Int64>) {
        guard !range.isEmpty else { return }
        var lower = range.lowerBound
        var upper = range.upperBound
        var kept: [Range<Int64>] = []
        kept.reserveCapacity(ranges.count + 1)
        for existing in ranges {
            if existing.upperBound < lower || existing.lowerBound > upper {
                kept.append(existing)
            } else {
                lower = min(lower, existing.lowerBound)
                upper = max(upper, existing.upperBound)
            }
        }
        kept.append(lower..<upper)
        kept.sort { $0.lowerBound < $1.lowerBound }
        ranges = kept
    }

    /// Whether every byte of `range` is in the set.
    public func covers(_ range: Range<Int64>) -> Bool {
        if range.isEmpty { return true }
        return ranges.contains { $0.lowerBound <= range.lowerBound && $0.upperBound >= range.upperBound }
    }

    public var byteCount: Int64 { ranges.reduce(0) { $0 + Int64($1.count) } }

    public var description: String { ranges.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",") }
}
