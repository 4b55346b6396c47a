//! How a sidecar binary starts: its command line and its `main`. These sit together because
//! they are the part an operator's manifest talks to, and share one aim — a command line
//! written for the upstream sidecar means the same here: the shared flags ([`args`]) read in
//! Go's syntaxes ([`go_flag`]), upstream's flags Sepia only accepts ([`upstream_only`]), a
//! binary's whole command line ([`command`]), and [`launch()`](launch::launch), which runs it.

pub mod args;
pub mod command;
pub mod go_flag;
pub mod launch;
pub mod upstream_only;
