//! librbd: image management as CSI needs it. Pool-level calls (create, clone, trash, namespaces)
//! are free functions taking an [`IoCtx`](crate::IoCtx); per-image calls are methods of an open
//! [`Image`].
//!
//! - `features`: the feature bitflags and Ceph's names for them
//! - `options`: [`CreateOptions`] and their librbd form
//! - `lifecycle`: create, clone (format 2), list, remove
//! - `trash`, `namespace`: trash and rbd-namespace management
//! - `id_object`: an image's id from its `rbd_id.<name>` object, without opening it
//! - `image`: open/close and simple properties (id, size, features, resize, flatten)
//! - `snapshot`, `watchers`, `metadata`, `parent`: the rest of an image's state
//! - `children`: the clones a snapshot lists, to prove a clone complete before the snapshot goes

mod children;
mod features;
mod id_object;
mod image;
mod lifecycle;
mod metadata;
mod namespace;
mod options;
mod parent;
mod snapshot;
mod trash;
mod watchers;

pub use children::{ChildInfo, children};
pub use features::Features;
pub use id_object::{decode_id_object, id_object_name};
pub use image::{Image, open};
pub use lifecycle::{ImageSpec, clone, create, list, remove};
pub use namespace::{namespace_create, namespace_list, namespace_remove};
pub use options::CreateOptions;
pub use parent::ParentInfo;
pub use snapshot::{SnapInfo, SnapNamespace};
pub use trash::{
    TrashEntry, TrashSource, trash_list, trash_move, trash_move_deferred, trash_remove,
};
pub use watchers::Watcher;
