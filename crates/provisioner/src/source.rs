//! A claim's data source — what a clone or restore reads from. These sit together because a
//! source is handled in one sequence every time, and each step depends on the one before: which
//! object `dataSource`/`dataSourceRef` names and whether the claim may read it from another
//! namespace ([`source_ref`], pure), whether that object can be restored or cloned from
//! ([`data_source`], pure), fetching the objects and checking them with those two
//! ([`sources`]), and the finalizers that keep the source while CreateVolume reads it
//! ([`source_protection`]).

pub mod data_source;
pub mod source_protection;
pub mod source_ref;
pub mod sources;
