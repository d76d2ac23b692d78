/// Every drive status CloudSigma's clients know (reference §3.10).
public enum DriveStatus: String, Sendable, CaseIterable, Codable {
    case creating
    case unmounted
    case mounted
    case resizing
    case cloningSource = "cloning_src"
    case cloningDestination = "cloning_dst"
    case copying
    case unavailable
    case uploading
    case staging

    /// Statuses a drive passes through on its way somewhere else; operations other than edits of
    /// name, meta, tags and allow_multimount are refused in them.
    public var isTransient: Bool {
        switch self {
        case .creating, .resizing, .cloningSource, .cloningDestination, .copying, .uploading, .staging: true
        case .unmounted, .mounted, .unavailable: false
        }
    }
}

/// The media a drive presents.
public enum DriveMedia: String, Sendable, CaseIterable {
    case disk, cdrom
}
