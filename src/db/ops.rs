//! The operation catalogue: every destructive operation described once — what it acts
//! on, who may, how it is audited and named, what it asks to confirm — for the data
//! layer, the console and the commands alike.

use serde::Serialize;

use super::Permission;
use super::ids::{Reason, TargetIds};
use super::schema::Entity;

/// Every destructive operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    DeleteChatSessions,
    RepairOrphanSessions,
    DeleteChatMessages,
    DeletePrivateMessages,
    DeleteComments,
    DeleteReviews,
    DeleteGuilds,
    DeleteUsers,
}

/// Whose cache keys an operation invalidates after commit (SPEC §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheOwner {
    Guild,
    User,
}

/// What the catalogue says of one operation.
#[derive(Debug, Clone, Copy)]
pub struct OpSpec {
    pub kind: OpKind,
    /// The entity whose rows are the targets.
    pub entity: Entity,
    pub permission: Permission,
    /// The audit action for each target.
    pub action: &'static str,
    /// The audit target type.
    pub target_type: &'static str,
    /// "delete", "repair".
    pub verb: &'static str,
    /// "deleted", "repaired".
    pub past: &'static str,
    /// Every plan needs the name or the count typed (SPEC §4.2), whatever its size.
    pub always_typed: bool,
    pub cache: Option<CacheOwner>,
}

const CATALOGUE: [OpSpec; 8] = [
    OpSpec {
        kind: OpKind::DeleteChatSessions,
        entity: Entity::ChatSessions,
        permission: Permission::DeleteChatSessions,
        action: "chat_session.delete",
        target_type: "chat_session",
        verb: "delete",
        past: "deleted",
        always_typed: false,
        cache: None,
    },
    OpSpec {
        kind: OpKind::RepairOrphanSessions,
        entity: Entity::ChatSessions,
        permission: Permission::RepairOrphanSessions,
        action: "chat_session.repair",
        target_type: "chat_session",
        verb: "repair",
        past: "repaired",
        always_typed: false,
        cache: None,
    },
    OpSpec {
        kind: OpKind::DeleteChatMessages,
        entity: Entity::ChatMessages,
        permission: Permission::DeleteMessages,
        action: "chat_message.delete",
        target_type: "chat_message",
        verb: "delete",
        past: "deleted",
        always_typed: false,
        cache: None,
    },
    OpSpec {
        kind: OpKind::DeletePrivateMessages,
        entity: Entity::Messages,
        permission: Permission::DeleteMessages,
        action: "message.delete",
        target_type: "message",
        verb: "delete",
        past: "deleted",
        always_typed: false,
        cache: None,
    },
    OpSpec {
        kind: OpKind::DeleteComments,
        entity: Entity::Comments,
        permission: Permission::DeleteContent,
        action: "comment.delete",
        target_type: "comment",
        verb: "delete",
        past: "deleted",
        always_typed: false,
        cache: None,
    },
    OpSpec {
        kind: OpKind::DeleteReviews,
        entity: Entity::Reviews,
        permission: Permission::DeleteContent,
        action: "review.delete",
        target_type: "review",
        verb: "delete",
        past: "deleted",
        always_typed: false,
        cache: None,
    },
    OpSpec {
        kind: OpKind::DeleteGuilds,
        entity: Entity::Guilds,
        permission: Permission::DeleteGuilds,
        action: "guild.delete",
        target_type: "guild",
        verb: "delete",
        past: "deleted",
        always_typed: true,
        cache: Some(CacheOwner::Guild),
    },
    OpSpec {
        kind: OpKind::DeleteUsers,
        entity: Entity::Users,
        permission: Permission::DeleteUsers,
        action: "user.delete",
        target_type: "user",
        verb: "delete",
        past: "deleted",
        always_typed: true,
        cache: Some(CacheOwner::User),
    },
];

impl OpKind {
    pub const ALL: [OpKind; 8] = [
        OpKind::DeleteChatSessions,
        OpKind::RepairOrphanSessions,
        OpKind::DeleteChatMessages,
        OpKind::DeletePrivateMessages,
        OpKind::DeleteComments,
        OpKind::DeleteReviews,
        OpKind::DeleteGuilds,
        OpKind::DeleteUsers,
    ];

    pub fn spec(self) -> &'static OpSpec {
        let index = OpKind::ALL.iter().position(|k| *k == self).unwrap_or(0);
        &CATALOGUE[index]
    }

    pub fn entity(self) -> Entity {
        self.spec().entity
    }

    pub fn permission(self) -> Permission {
        self.spec().permission
    }

    pub fn is_repair(self) -> bool {
        self == OpKind::RepairOrphanSessions
    }

    /// "chat session", "chat sessions".
    pub fn nouns(self) -> (&'static str, &'static str) {
        self.entity().nouns()
    }

    /// "3 chat sessions", "1 user".
    pub fn count(self, n: usize) -> String {
        let (one, many) = self.nouns();
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

/// What happens to a deleted user's comments, reviews and sent messages (SPEC §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentPolicy {
    /// They stay, shown as by "deleted user".
    #[default]
    Keep,
    /// They are deleted with the user.
    Delete,
}

/// An operation with its targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operation {
    #[serde(rename = "operation")]
    pub kind: OpKind,
    pub ids: TargetIds,
    /// Users only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentPolicy>,
}

impl Operation {
    pub fn new(kind: OpKind, ids: TargetIds) -> Self {
        Operation {
            kind,
            ids,
            content: (kind == OpKind::DeleteUsers).then_some(ContentPolicy::Keep),
        }
    }

    pub fn delete_users(ids: TargetIds, content: ContentPolicy) -> Self {
        Operation {
            kind: OpKind::DeleteUsers,
            ids,
            content: Some(content),
        }
    }

    pub fn ids(&self) -> &TargetIds {
        &self.ids
    }

    pub fn spec(&self) -> &'static OpSpec {
        self.kind.spec()
    }

    pub fn permission(&self) -> Permission {
        self.kind.permission()
    }

    pub fn content_policy(&self) -> ContentPolicy {
        self.content.unwrap_or_default()
    }

    /// The same operation on other targets (one batch of a larger run).
    pub fn with_ids(&self, ids: TargetIds) -> Operation {
        Operation {
            kind: self.kind,
            ids,
            content: self.content,
        }
    }
}

/// An operation as the operator asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    #[serde(flatten)]
    pub operation: Operation,
    pub reason: Option<Reason>,
}

impl Request {
    pub fn new(operation: Operation, reason: Option<Reason>) -> Self {
        Request { operation, reason }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_in_the_catalogue_once_under_its_own_kind() {
        for kind in OpKind::ALL {
            assert_eq!(kind.spec().kind, kind);
        }
        assert!(OpKind::DeleteUsers.spec().always_typed);
        assert_eq!(OpKind::DeleteGuilds.spec().cache, Some(CacheOwner::Guild));
        assert_eq!(OpKind::DeleteChatSessions.count(1), "1 chat session");
        assert_eq!(OpKind::DeleteChatSessions.count(3), "3 chat sessions");
    }
}
