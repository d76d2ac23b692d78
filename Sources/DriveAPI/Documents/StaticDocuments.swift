// The documents drivesd serves verbatim: the drive, license, job, library drive and tag schemas
// and the capabilities template, taken from the responses of the real API captured in
// cloudsigma-docs' dumps. They are data files (Documents/schemas/*.json, byte for byte what the
// API sent, reformatted), embedded in the binary at build time, so the daemon runs from anywhere.

enum StaticDocuments {
    static let driveSchema = PackageResources.drive_schema_json
    static let licenseSchema = PackageResources.license_schema_json
    static let capabilities = PackageResources.capabilities_json
    static let jobSchema = PackageResources.job_schema_json
    static let libdriveSchema = PackageResources.libdrive_schema_json
    static let tagSchema = PackageResources.tag_schema_json
    static let snapshotSchema = PackageResources.snapshot_schema_json
    /// No capture of the real API's profile schema exists: this one is written in the same style
    /// (tastypie's), from the fields of the captured profiles.
    static let profileSchema = PackageResources.profile_schema_json
    /// The capabilities schema, captured (`response_capabilities_schema`).
    static let capabilitiesSchema = PackageResources.capabilities_schema_json
    /// No capture of the server schema exists: written in the same style, from the keys a server
    /// has here.
    static let serverSchema = PackageResources.server_schema_json
    /// The IP and VLAN schemas, captured (cloudsigma-docs' `response_ip_schema`,
    /// `response_vlan_schema`).
    static let ipSchema = PackageResources.ip_schema_json
    static let vlanSchema = PackageResources.vlan_schema_json
}
