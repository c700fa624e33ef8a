//! Identity records as stored and as exposed on the admin API. Secrets never appear
//! here: only their hashes.

use serde::{Deserialize, Serialize};

/// A person or service account that owns API keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub groups: Vec<String>,
    pub created_at: i64,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub created_at: i64,
}

/// A data-plane API key. `id` is public (shown in lists and logs); the secret is stored
/// only as `secret_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub user_id: String,
    pub name: Option<String>,
    #[serde(skip_serializing)]
    pub secret_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl ApiKeyRecord {
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// What an admin token may do on the admin plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Everything, including minting admin tokens.
    Admin,
    /// Day-to-day operations: users, groups, keys, incidents.
    Operator,
    /// Read-only.
    Auditor,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Admin => "admin",
            AdminRole::Operator => "operator",
            AdminRole::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<AdminRole> {
        match s {
            "admin" => Some(AdminRole::Admin),
            "operator" => Some(AdminRole::Operator),
            "auditor" => Some(AdminRole::Auditor),
            _ => None,
        }
    }

    /// Whether this role holds at least what `other` holds (admin ⊇ operator ⊇ auditor):
    /// a token may grant or revoke only roles it includes.
    pub fn includes(self, other: AdminRole) -> bool {
        let rank = |r: AdminRole| match r {
            AdminRole::Admin => 2,
            AdminRole::Operator => 1,
            AdminRole::Auditor => 0,
        };
        rank(self) >= rank(other)
    }

    /// Whether this role may change state (anything but reads).
    pub fn can_write(self) -> bool {
        !matches!(self, AdminRole::Auditor)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminTokenRecord {
    pub id: String,
    pub name: Option<String>,
    pub role: AdminRole,
    #[serde(skip_serializing)]
    pub secret_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// The authenticated caller of a data-plane request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub user_name: String,
    pub groups: Vec<String>,
    pub key_id: String,
}

/// The authenticated caller of an admin request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminPrincipal {
    /// The token id, or `bootstrap` for the token given by `PALISADE_ADMIN_TOKEN`.
    pub token_id: String,
    pub role: AdminRole,
}

impl ApiKeyRecord {
    /// Mints a new key for `user_id`: the record to store and the plaintext to show once.
    pub fn mint(
        user_id: &str,
        name: Option<String>,
        expires_at: Option<i64>,
        now: i64,
    ) -> (Self, String) {
        let issued = super::secret::issue(super::SecretKind::ApiKey);
        let record = ApiKeyRecord {
            id: issued.id,
            user_id: user_id.to_owned(),
            name,
            secret_hash: issued.hash,
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        (record, issued.plaintext)
    }
}

impl AdminTokenRecord {
    /// Mints a new admin token: the record to store and the plaintext to show once.
    pub fn mint(role: AdminRole, name: Option<String>, now: i64) -> (Self, String) {
        let issued = super::secret::issue(super::SecretKind::AdminToken);
        let record = AdminTokenRecord {
            id: issued.id,
            name,
            role,
            secret_hash: issued.hash,
            created_at: now,
            revoked_at: None,
        };
        (record, issued.plaintext)
    }
}
