//! Leader election, fail-stop: which replica may act, and what stops it the moment it may not.
//! These sit together because they are one guarantee — no two replicas ever act on the same
//! objects — and only hold it together: the Lease names upstream's sidecars contend for
//! ([`lease_name`]), the election with client-go's timings ([`leader`]), controllers that run
//! only while leading and are aborted when the Lease is lost ([`leadership`]), and the
//! OS-thread watchdog that ends a leader past its deadline ([`fail_stop`]).

pub mod fail_stop;
pub mod leader;
pub mod leadership;
pub mod lease_name;
