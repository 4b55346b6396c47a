//! Reserving a request name: idempotent, and crash-safe by write order (see [`crate::journal`]).

use ceph::{IoCtx, WriteOp};
use tracing::info;
use uuid::Uuid;

use crate::entry::{Entry, render};
use crate::error::{Error, Result};
use crate::failpoints::Step;
use crate::id::Location;
use crate::journal::{Journal, ceph_error};
use crate::layout::encode_directory_value;
use crate::request::Request;

/// How many random uuids to try before giving up (ceph-csi tries 5 as well); a collision of
/// v4 uuids means something else is very wrong.
const UUID_ATTEMPTS: usize = 5;

/// The outcome of [`Journal::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The entry, existing or new.
    pub entry: Entry,
    /// `true` when this call created it; `false` when an earlier request had (the caller must
    /// then check whether the image exists, and create it if not).
    pub fresh: bool,
}

impl Journal {
    /// Returns the entry for `request`'s name, creating it when there is none.
    ///
    /// Safe to call again after any failure or crash: the lookup inside repairs what an
    /// interrupted earlier call left. Fails with [`Error::NameConflict`] when the name is taken
    /// with other parameters.
    #[tracing::instrument(skip_all, fields(kind = %self.kind(), request_name = %request.request_name))]
    pub async fn reserve(&self, request: &Request) -> Result<Reservation> {
        request.validate(self.kind())?;
        let _lock = self.lock_name(&request.request_name).await;
        if let Some(entry) = self.find(request).await? {
            return Ok(Reservation {
                entry,
                fresh: false,
            });
        }
        let image_pool_id = request.image_pool_id.filter(|&pool| pool != self.pool_id());
        let entry_io = match image_pool_id {
            None => self.io.clone(),
            Some(pool) => self
                .entry_io(pool)
                .await
                .map_err(|err| ceph_error("open image pool", &format!("pool {pool}"), err))?,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let uuid = request.uuid.unwrap_or_else(Uuid::new_v4);
            match self
                .reserve_uuid(request, &entry_io, image_pool_id, uuid)
                .await?
            {
                Some(entry) => {
                    info!(uuid = %entry.location.uuid, image = %entry.image_name, "reserved");
                    return Ok(Reservation { entry, fresh: true });
                }
                None if request.uuid.is_some() || attempt == UUID_ATTEMPTS => {
                    return Err(Error::UuidTaken {
                        request_name: request.request_name.clone(),
                        uuid,
                    });
                }
                None => continue,
            }
        }
    }

    /// Writes directory key `key` → `value` if the key is still absent: a compare in the same
    /// op (a missing key reads as empty; our values never are), plus — inside the caller's lock
    /// scope — the name's lock ([`Journal::lock_request_name`]). A reservation that raced
    /// another one of the same name therefore fails ([`Error::InProgress`]; its retry finds the
    /// other's entry) instead of overwriting its key. The one write allowed to create its
    /// object: the directory, on the first reservation in the pool.
    async fn write_directory_key(&self, request_name: &str, key: &str, value: &str) -> Result<()> {
        let directory = self.layout.directory_oid();
        let pair = [(key, value.as_bytes())];
        let raced = || Error::InProgress {
            key: format!("{} name {request_name}", self.kind()),
        };
        let if_absent = || {
            WriteOp::new("write directory key")
                .omap_cmp_eq(key, b"")
                .omap_set(&pair)
        };
        let outcome = match self.io.operate(directory, if_absent()).await {
            Err(err) if err.is_not_found() => {
                let create = WriteOp::new("create directory")
                    .create_exclusive()
                    .omap_set(&pair);
                match self.io.operate(directory, create).await {
                    // Another reservation created it meanwhile (any name): compare again.
                    Err(err) if err.is_already_exists() => {
                        self.io.operate(directory, if_absent()).await
                    }
                    other => other,
                }
            }
            other => other,
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(err) if err.is_compare_failed() => Err(raced()),
            Err(err) => Err(ceph_error("write directory key", directory, err)),
        }
    }

    /// The two writes of a reservation. `Ok(None)` when `uuid` is already taken (its key is
    /// taken back: it points at an object that belongs to someone else).
    async fn reserve_uuid(
        &self,
        request: &Request,
        entry_io: &IoCtx,
        image_pool_id: Option<i64>,
        uuid: Uuid,
    ) -> Result<Option<Entry>> {
        let kind = self.kind();
        let key = self.layout.directory_key(&request.request_name);
        let value = encode_directory_value(&uuid, image_pool_id);
        self.write_directory_key(&request.request_name, &key, &value)
            .await?;
        self.failpoint(Step::ReserveAfterDirectoryKey).await?;

        let image_name = format!("{}{}", request.prefix(kind), uuid.hyphenated());
        let journal_pool_id = image_pool_id.map(|_| self.pool_id());
        let attributes = render(kind, request, &image_name, journal_pool_id);
        let kvs: Vec<(&str, &[u8])> = attributes
            .iter()
            .map(|(name, value)| (*name, value.as_bytes()))
            .collect();
        let oid = self.layout.entry_oid(&uuid);
        match entry_io.create_with_omap(&oid, &kvs).await {
            Ok(()) => {}
            Err(err) if err.is_already_exists() => {
                self.remove_directory_key_if(&key, value.as_bytes()).await?;
                return Ok(None);
            }
            // No clean-up: the directory key now points at nothing (or, if the create did land
            // despite the error, at a complete entry), both of which the retry's lookup handles.
            Err(err) => return Err(ceph_error("create entry object", &oid, err)),
        }
        self.failpoint(Step::ReserveAfterEntryObject).await?;

        Ok(Some(Entry {
            kind,
            location: Location {
                pool_id: entry_io.pool_id(),
                uuid,
            },
            request_name: request.request_name.clone(),
            image_name,
            image_id: None,
            source: request.source.clone(),
            owner: request.owner.clone(),
            journal_pool_id,
            encryption: request.encryption.clone(),
            extra: Default::default(),
        }))
    }
}
