//! The user's SmashRun tokens during a job: every SmashRun call goes through
//! [`SyncEngine::call_smashrun`], which refreshes once on a 401 and charges the hourly budget.

use std::future::Future;

use secrecy::SecretString;
use stk_protocol::JobErrorCode;
use tracing::{Instrument, info, info_span, warn};

use super::advice::Stop;
use super::{Run, SyncEngine};
use crate::error::SmashrunError;
use crate::ids::UserId;
use crate::job::Job;
use crate::tokens::TokenSet;

/// The token pair in use and the stored version it came from.
pub(super) struct Held {
    pub(super) set: TokenSet,
    pub(super) version: i64,
}

/// The source as one job run uses it.
pub(super) struct Linked {
    pub(super) source_user_id: String,
    pub(super) tokens: Held,
    /// Refreshed once already in this delivery: a second 401 is final.
    pub(super) refreshed: bool,
}

impl SyncEngine {
    /// One SmashRun call with the held access token, retried in place for transient failures
    /// and refreshed once on a 401.
    pub(super) async fn call_smashrun<T, F, Fut>(
        &self,
        job: &Job,
        linked: &mut Linked,
        run: &Run<'_>,
        op: F,
    ) -> Result<T, Stop>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, SmashrunError>>,
    {
        loop {
            let access = linked.tokens.set.access_token.clone();
            let result = self
                .counted(&run.counters.smashrun, || op(access.clone()))
                .await;
            match result {
                Ok(value) => return Ok(value),
                Err(SmashrunError::Unauthorized) if !linked.refreshed => {
                    info!("smashrun refused the access token: refreshing once");
                    self.refresh(job, linked, run).await?;
                }
                Err(e) => return Err(self.smashrun_stop(e, job)),
            }
        }
    }

    /// Renews the token pair and stores it before using it: once SmashRun has rotated the
    /// refresh token, the new one is the only one that works. Another worker may be refreshing
    /// the same user at once: the save is a compare-and-set on the version read, and the loser
    /// (whose refresh SmashRun may also have refused, the token having rotated) uses the pair
    /// the winner stored.
    pub(super) async fn refresh(
        &self,
        job: &Job,
        linked: &mut Linked,
        run: &Run<'_>,
    ) -> Result<(), Stop> {
        let user = job.user_id;
        linked.refreshed = true;
        let span = info_span!("refresh_tokens");
        async {
            let old_refresh: SecretString = linked.tokens.set.refresh_token.clone();
            let counters = &run.counters;
            let grant = match self
                .counted(&counters.smashrun, || self.smashrun.refresh(&old_refresh))
                .await
            {
                Ok(grant) => grant,
                Err(SmashrunError::InvalidGrant(why)) => {
                    if self.adopt_newer(user, linked, run).await? {
                        info!("another worker refreshed first: using the pair it stored");
                        return Ok(());
                    }
                    warn!(reason = %why, "smashrun refused the refresh token: the runner must log in again");
                    let source_user_id = linked.source_user_id.clone();
                    self.counted(&counters.store, || {
                        self.sources.mark_needs_relink(user, &source_user_id)
                    })
                    .await?;
                    return Err(Stop::Fail {
                        code: JobErrorCode::SmashrunAuth,
                        message: "SmashRun no longer accepts this account's authorisation: run `stk auth login` to link it again".into(),
                    });
                }
                Err(e) => return Err(self.smashrun_stop(e, job)),
            };
            let renewed = TokenSet::from_grant(grant, Some(&old_refresh), self.clock.now())
                .ok_or_else(|| Stop::Fail {
                    code: JobErrorCode::SmashrunAuth,
                    message:
                        "SmashRun renewed access without a refresh token: run `stk auth login`"
                            .into(),
                })?;
            let source_user_id = linked.source_user_id.clone();
            let version = linked.tokens.version;
            let saved = self
                .counted(&counters.store, || {
                    self.sources
                        .save_tokens(user, &source_user_id, &renewed, version)
                })
                .await?;
            match saved {
                Some(version) => {
                    linked.tokens = Held {
                        set: renewed,
                        version,
                    };
                    info!("smashrun tokens refreshed and stored");
                }
                None => {
                    self.adopt_newer(user, linked, run).await?;
                    info!("another worker stored a newer pair first: using it");
                }
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Reads the stored pair; takes it when it is newer than the one held.
    async fn adopt_newer(
        &self,
        user: UserId,
        linked: &mut Linked,
        run: &Run<'_>,
    ) -> Result<bool, Stop> {
        let stored = self
            .counted(&run.counters.store, || self.sources.smashrun_source(user))
            .await?;
        match stored {
            Some(source) if source.tokens_version > linked.tokens.version => {
                linked.tokens = Held {
                    set: source.tokens,
                    version: source.tokens_version,
                };
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
