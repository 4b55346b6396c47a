//! The operator's look before the deletes (steps 18–19): `sepia inspect` of PVC demo/data and
//! `sepia orphans` over the demo's namespace, through the `sepia` tool's library with the files
//! an operator would point it at (a config.json naming the demo's namespace, a credentials
//! directory readable only by its owner). The inspection must find the volume's entry and
//! image; the scan must find nothing while all the story's volumes and its snapshot exist.

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use rig::access::Access;
use sepia_cli::args::{Output, Shared};
use sepia_cli::context::Context;

use crate::error::{Error, Result};
use crate::options::Options;
use crate::story::Story;
use crate::world::World;

/// The tool's `--trash-grace` default: nothing of the story is in the trash yet anyway.
const TRASH_GRACE: Duration = Duration::from_secs(600);

pub(crate) async fn look(
    story: &mut Story,
    world: &World,
    opts: &Options,
    access: &Access,
) -> Result<()> {
    let (Some(data), Some(scratch)) = (world.made.first(), world.scratch.as_ref()) else {
        return Err(Error::Check {
            problems: vec!["no volume or namespace to look at".into()],
        });
    };
    let dir = tempfile::tempdir().map_err(local("make the tool's directory"))?;
    let shared = tool_files(dir.path(), opts, access, &scratch.name)
        .map_err(local("write the tool's config.json and credentials"))?;
    let cx = Context::connect(&shared).await.map_err(tool("connect"))?;

    let shown = story
        .step(async {
            let report = sepia_cli::inspect::inspect(&cx, &data.id)
                .await
                .map_err(tool("inspect"))?;
            let mut problems = Vec::new();
            if report.journal.request_name.is_none() || !report.journal.directory_points_here {
                problems.push(format!("no journal entry for {}", data.id));
            }
            if report.image.is_none() {
                problems.push(format!("no image {}", report.image_name));
            }
            if !problems.is_empty() {
                return Err(Error::Check { problems });
            }
            let mut text = Vec::new();
            sepia_cli::inspect::table(&report)
                .write(&mut text)
                .map_err(local("render the inspection"))?;
            Ok(String::from_utf8_lossy(&text).into_owned())
        })
        .await?;
    story.detail(&format!("sepia inspect {}\n{shown}", data.id));

    let scanned = story
        .step(async {
            let pools = sepia_cli::orphans::pools::scanned(&cx)
                .await
                .map_err(tool("orphans"))?;
            let mut findings = Vec::new();
            for pool in &pools {
                findings.extend(
                    sepia_cli::orphans::scan(&cx, pool, TRASH_GRACE)
                        .await
                        .map_err(tool("orphans"))?,
                );
            }
            if !findings.is_empty() {
                let problems = findings
                    .iter()
                    .map(|f| format!("sepia orphans: {} {}: {}", f.kind, f.object, f.why))
                    .collect();
                return Err(Error::Check { problems });
            }
            Ok(pools.len())
        })
        .await?;
    story.detail(&format!(
        "sepia orphans (every RBD pool holding namespace {}: {scanned}): none",
        scratch.name
    ));
    Ok(())
}

/// The tool's shared flags, with its config.json and credentials written below `dir`.
fn tool_files(
    dir: &std::path::Path,
    opts: &Options,
    access: &Access,
    namespace: &str,
) -> std::io::Result<Shared> {
    let creds = &access.credentials;
    let monitors: Vec<&str> = creds.monitors.split(',').collect();
    let config = dir.join("config.json");
    let body = serde_json::json!([{"clusterID": opts.cluster_id, "monitors": monitors,
        "rbd": {"radosNamespace": namespace}}]);
    std::fs::write(&config, body.to_string())?;
    // The key's file is restricted before the key goes in.
    let credentials = dir.join("credentials");
    std::fs::create_dir(&credentials)?;
    for (name, value) in [("userID", creds.user.as_str()), ("userKey", creds.key())] {
        let file = credentials.join(name);
        std::fs::write(&file, "")?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        std::fs::write(&file, value)?;
    }
    Ok(Shared {
        cluster_config: config,
        credentials_dir: credentials,
        cluster_id: Some(opts.cluster_id.clone()),
        pool: None,
        kubeconfig: None,
        output: Output::Table,
    })
}

fn local(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |source| Error::Local {
        what: what.to_owned(),
        source,
    }
}

fn tool(command: &'static str) -> impl Fn(sepia_cli::error::Error) -> Error {
    move |e| Error::Check {
        problems: vec![format!("sepia {command}: {e}")],
    }
}
