//! Login sessions in DynamoDB: the jobs table, under keys of their own (`login#<session id>`),
//! so the auth function's IAM policy can be limited to them with `dynamodb:LeadingKeys`.
//!
//! A session record: `secret_hash`, `state`, `status` (one of [`SessionStatus::name`]),
//! `user_id` and `name` once linked, `reason` once failed, `created_ms`, and `expires_at`
//! (epoch seconds, DynamoDB's TTL; reads ignore expired records, since TTL deletes lazily).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use stk_core::JobStoreError;
use stk_core::login::{
    LoginSessionRecord, LoginSessions, OAuthState, SecretHash, SessionId, SessionStatus,
};
use time::OffsetDateTime;
use tracing::{Instrument, info_span};

use crate::dynamo::{Item, get_n, get_s, n, s, unavailable};

#[derive(Debug, Clone)]
pub struct DynamoSessions {
    client: Client,
    table: String,
}

impl DynamoSessions {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

/// How a login session's key begins.
pub(crate) const KEY_PREFIX: &str = "login#";

fn key(id: SessionId) -> AttributeValue {
    AttributeValue::S(format!("{KEY_PREFIX}{id}"))
}

fn corrupt(what: &str) -> JobStoreError {
    JobStoreError::Corrupt(format!("login session: {what}"))
}

fn from_item(id: SessionId, item: &Item) -> Result<LoginSessionRecord, JobStoreError> {
    let secret_hash = get_s(item, "secret_hash")
        .and_then(SecretHash::parse)
        .ok_or_else(|| corrupt("secret hash"))?;
    let state = get_s(item, "state").ok_or_else(|| corrupt("state"))?;
    let status = match get_s(item, "status") {
        Some("pending") => SessionStatus::Pending,
        Some("exchanging") => SessionStatus::Exchanging,
        Some("linked") => SessionStatus::Linked {
            user: get_s(item, "user_id")
                .and_then(|u| u.parse().ok())
                .ok_or_else(|| corrupt("user id"))?,
            name: get_s(item, "name").unwrap_or_default().to_owned(),
        },
        Some("failed") => SessionStatus::Failed {
            reason: get_s(item, "reason").unwrap_or_default().to_owned(),
        },
        Some("spent") => SessionStatus::Spent,
        _ => return Err(corrupt("status")),
    };
    let at = |name: &str, scale: i128| {
        get_n(item, name)
            .and_then(|v| OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * scale).ok())
            .ok_or_else(|| corrupt(name))
    };
    Ok(LoginSessionRecord {
        id,
        secret_hash,
        state: OAuthState::from_stored(state.to_owned()),
        status,
        created_at: at("created_ms", 1_000_000)?,
        expires_at: at("expires_at", 1_000_000_000)?,
    })
}

#[async_trait]
impl LoginSessions for DynamoSessions {
    async fn create(&self, session: &LoginSessionRecord) -> Result<(), JobStoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", key(session.id))
            .item("secret_hash", s(session.secret_hash.as_str()))
            .item("state", s(session.state.as_str()))
            .item("status", s(session.status.name()))
            .item(
                "created_ms",
                n((session.created_at.unix_timestamp_nanos() / 1_000_000) as i64),
            )
            .item("expires_at", n(session.expires_at.unix_timestamp()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .instrument(info_span!("create_login_session", session = %session.id))
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(())
    }

    async fn get(
        &self,
        id: SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<LoginSessionRecord>, JobStoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", key(id))
            .consistent_read(true)
            .send()
            .instrument(info_span!("get_login_session", session = %id))
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let session = from_item(id, &item)?;
        Ok((session.expires_at > now).then_some(session))
    }

    async fn transition(
        &self,
        id: SessionId,
        from: &SessionStatus,
        to: &SessionStatus,
        now: OffsetDateTime,
    ) -> Result<(), JobStoreError> {
        let mut update = String::from("SET #status = :to");
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", key(id))
            .condition_expression("#status = :from AND expires_at > :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(from.name()))
            .expression_attribute_values(":to", s(to.name()))
            .expression_attribute_values(":now", n(now.unix_timestamp()));
        match to {
            SessionStatus::Linked { user, name } => {
                update.push_str(", user_id = :user, #name = :name");
                request = request
                    .expression_attribute_names("#name", "name")
                    .expression_attribute_values(":user", s(user.to_string()))
                    .expression_attribute_values(":name", s(name.clone()));
            }
            SessionStatus::Failed { reason } => {
                update.push_str(", reason = :reason");
                request = request.expression_attribute_values(":reason", s(reason.clone()));
            }
            _ => {}
        }
        let result = request
            .update_expression(update)
            .send()
            .instrument(info_span!("login_session_transition", session = %id, to = to.name()))
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Err(JobStoreError::Conflict)
                } else {
                    Err(unavailable(e))
                }
            }
        }
    }
}
