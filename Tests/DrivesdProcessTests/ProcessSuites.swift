import Testing

/// Every suite that starts drivesd processes, one suite at a time. They still run beside the
/// in-process suites, but not beside each other: the crash campaign's writers, the 1,100
/// connections of the connection test and the content campaigns each want the two cores, and run
/// together the crash campaign got a twentieth of the writes it makes alone (24 acknowledged
/// writes in 3 cycles instead of ~1,900), too few to prove anything.
@Suite("drivesd processes", .serialized)
struct ProcessSuites {}
