//! The story's volume and snapshot IDs taken apart, field by field, as docs/architecture.md §5 describes them:
//! `VVVV-LLLL-<clusterID>-<16 hex pool id>-<uuid>`.

use super::Made;
use crate::table::Table;

/// The IDs as CSI returned them, one per line.
pub fn ids_list(made: &[Made]) -> Table {
    let mut table = Table::new(["", "CSI ID"]);
    for m in made {
        table.row([m.label.clone(), m.id.clone()]);
    }
    table
}

/// Each ID decoded: version, clusterID, pool (hex and decimal, with its name), uuid and the
/// journal object it leads to.
pub fn ids_table(made: &[Made], pool_name: &str) -> Table {
    let mut table = Table::new([
        "",
        "version",
        "clusterID",
        "pool id",
        "uuid",
        "journal object",
    ]);
    for m in made {
        let Some(id) = m.decoded() else {
            table.row([m.label.clone(), "does not decode".into()]);
            continue;
        };
        let version = m.id.get(..4).unwrap_or("?").to_owned();
        let pool = format!(
            "{:016x} = {} ({pool_name})",
            id.location_id(),
            id.location_id()
        );
        let object = format!("{}{}", m.kind.entry_prefix(), id.uuid());
        table.row([
            m.label.clone(),
            version,
            id.cluster_id().to_owned(),
            pool,
            id.uuid().to_string(),
            object,
        ]);
    }
    table
}
