//! How a sidecar binary starts: its command line. These sit together because they are the part
//! an operator's manifest talks to, and share one aim — a command line written for the
//! upstream sidecar means the same here: the shared flags ([`args`]) read in Go's syntaxes
//! ([`go_flag`]), upstream's flags Sepia only accepts ([`upstream_only`]) and a binary's whole
//! command line ([`command`]). Running it is the runtime's ([`crate::runtime::launch`]), which
//! takes these as values; nothing here reaches into the runtime.

pub mod args;
pub mod command;
pub mod go_flag;
pub mod upstream_only;
