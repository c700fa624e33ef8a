//! The Cedar actions Palisade asks about: data-plane actions (per request and per listed
//! model) and admin-plane actions (per admin API call), with their Cedar names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A name that is not one of Palisade's actions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action `{0}`")]
pub struct UnknownAction(pub String);

/// What a data-plane request does to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataAction {
    /// `POST /v1/chat/completions` (and the Anthropic messages route).
    Chat,
    /// `POST /v1/embeddings`.
    Embed,
    /// `GET /v1/models`: asked once per model; models denied are left out of the list.
    ListModels,
}

impl DataAction {
    pub const ALL: [DataAction; 3] = [DataAction::Chat, DataAction::Embed, DataAction::ListModels];

    /// The Cedar action id: `Palisade::Action::"<as_str>"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataAction::Chat => "chat",
            DataAction::Embed => "embed",
            DataAction::ListModels => "list_models",
        }
    }

    /// Position in [`DataAction::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DataAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataAction {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

/// What an admin API call does. Reads are in the Cedar action group `admin_read`,
/// changes in `admin_write`; both are in `admin_plane`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    ReadIdentities,
    ManageUsers,
    ManageGroups,
    ManageKeys,
    ManageAdminTokens,
    ReadPolicies,
    ManagePolicies,
    ReadLimits,
    ManageLimits,
    ReadAudit,
    /// Decrypt a record's captured content (`GET /admin/v1/audit/{seq}/content`).
    ReadAuditContent,
    ReadMetrics,
    ManageIncidents,
    /// Sign a checkpoint now, re-wrap data keys under the current master key.
    ManageAudit,
    /// Crypto-shred a data subject's captured content.
    EraseSubjects,
}

impl AdminAction {
    pub const ALL: [AdminAction; 15] = [
        AdminAction::ReadIdentities,
        AdminAction::ManageUsers,
        AdminAction::ManageGroups,
        AdminAction::ManageKeys,
        AdminAction::ManageAdminTokens,
        AdminAction::ReadPolicies,
        AdminAction::ManagePolicies,
        AdminAction::ReadLimits,
        AdminAction::ManageLimits,
        AdminAction::ReadAudit,
        AdminAction::ReadAuditContent,
        AdminAction::ReadMetrics,
        AdminAction::ManageIncidents,
        AdminAction::ManageAudit,
        AdminAction::EraseSubjects,
    ];

    /// The Cedar action id: `Palisade::Action::"<as_str>"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminAction::ReadIdentities => "read_identities",
            AdminAction::ManageUsers => "manage_users",
            AdminAction::ManageGroups => "manage_groups",
            AdminAction::ManageKeys => "manage_keys",
            AdminAction::ManageAdminTokens => "manage_admin_tokens",
            AdminAction::ReadPolicies => "read_policies",
            AdminAction::ManagePolicies => "manage_policies",
            AdminAction::ReadLimits => "read_limits",
            AdminAction::ManageLimits => "manage_limits",
            AdminAction::ReadAudit => "read_audit",
            AdminAction::ReadAuditContent => "read_audit_content",
            AdminAction::ReadMetrics => "read_metrics",
            AdminAction::ManageIncidents => "manage_incidents",
            AdminAction::ManageAudit => "manage_audit",
            AdminAction::EraseSubjects => "erase_subjects",
        }
    }

    /// Whether the action only reads (it is in the `admin_read` group).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            AdminAction::ReadIdentities
                | AdminAction::ReadPolicies
                | AdminAction::ReadLimits
                | AdminAction::ReadAudit
                | AdminAction::ReadAuditContent
                | AdminAction::ReadMetrics
        )
    }

    /// Position in [`AdminAction::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for AdminAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AdminAction {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AdminAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_index_matches_all() {
        for (i, a) in DataAction::ALL.into_iter().enumerate() {
            assert_eq!(a.index(), i);
            assert_eq!(a.as_str().parse::<DataAction>(), Ok(a));
        }
        for (i, a) in AdminAction::ALL.into_iter().enumerate() {
            assert_eq!(a.index(), i);
            assert_eq!(a.as_str().parse::<AdminAction>(), Ok(a));
            assert_eq!(a.is_read(), a.as_str().starts_with("read_"));
        }
        assert_eq!(
            "drop_tables".parse::<AdminAction>(),
            Err(UnknownAction("drop_tables".into()))
        );
    }
}
