//! Operators and what each role may do (SPEC §3), checked here, in the data layer.

use super::schema::Entity;
use super::{DataError, Id, Schema, Sql, Tx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Moderator,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Moderator => "moderator",
            Role::User => "user",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "moderator" => Some(Role::Moderator),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that changes data, by who may do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    DeleteChatSessions,
    RepairOrphanSessions,
    DeleteMessages,
    EditContent,
    DeleteContent,
    DeleteGuilds,
    DeleteUsers,
    ResetMfa,
    /// List, restore and purge the trash (SPEC §10).
    RestoreTrash,
    /// Create the trigram indexes the text search needs on the platform's tables.
    CreateIndexes,
}

impl Permission {
    pub fn allows(self, role: Role) -> bool {
        match self {
            Permission::DeleteChatSessions
            | Permission::RepairOrphanSessions
            | Permission::DeleteGuilds
            | Permission::DeleteUsers
            | Permission::ResetMfa
            | Permission::RestoreTrash
            | Permission::CreateIndexes => role == Role::Admin,
            Permission::DeleteMessages | Permission::EditContent | Permission::DeleteContent => {
                matches!(role, Role::Admin | Role::Moderator)
            }
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Permission::DeleteChatSessions => "deleting chat sessions",
            Permission::RepairOrphanSessions => "repairing orphaned chat sessions",
            Permission::DeleteMessages => "deleting messages",
            Permission::EditContent => "editing comments and reviews",
            Permission::DeleteContent => "deleting comments and reviews",
            Permission::DeleteGuilds => "deleting guilds",
            Permission::DeleteUsers => "deleting users",
            Permission::ResetMfa => "resetting an operator's MFA",
            Permission::RestoreTrash => "restoring deleted rows from the trash",
            Permission::CreateIndexes => "creating indexes on the platform's tables",
        }
    }
}

/// A signed-in operator: who acts, as recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Actor {
    pub id: Id,
    pub username: String,
    pub role: Role,
}

impl Actor {
    pub fn may(&self, permission: Permission) -> bool {
        permission.allows(self.role)
    }

    pub(crate) fn require(&self, permission: Permission) -> Result<(), DataError> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(DataError::Forbidden(format!(
                "{} is not allowed for the {} role",
                permission.describe(),
                self.role
            )))
        }
    }

    /// Checks the permission against the operator's row as it is now, inside the
    /// transaction: an account demoted, deactivated or deleted since sign-in is refused.
    pub(crate) async fn verify(
        &self,
        tx: &mut Tx,
        schema: &Schema,
        permission: Permission,
    ) -> Result<(), DataError> {
        self.require(permission)?;
        let mut q = Sql::new(schema);
        q.alias("u", Entity::Users)
            .push("select {u.role} as role, ({u.active|1 = 1}) as is_active, ");
        deleted_flag(&mut q, schema, "u");
        q.push(" from {@users} u where {u.id} = ")
            .bind_id(schema.id_kind(Entity::Users), &self.id);
        let Some(row) = tx.fetch_optional_sql(&q).await? else {
            return Err(DataError::Forbidden(
                "your operator account no longer exists".into(),
            ));
        };
        if !row.bool("is_active")? || row.bool("is_deleted")? {
            return Err(DataError::Forbidden(
                "your operator account is inactive".into(),
            ));
        }
        let role = schema.role_of(&row.text("role")?);
        if !permission.allows(role) {
            return Err(DataError::Forbidden(format!(
                "{} is not allowed for the {role} role (your role changed since sign-in)",
                permission.describe()
            )));
        }
        Ok(())
    }
}

/// Appends `(… is not null) as is_deleted` for a soft-delete map, else a false flag.
pub(crate) fn deleted_flag(q: &mut Sql<'_>, schema: &Schema, alias: &str) {
    match &schema.soft_delete {
        Some(soft) => q
            .push("(")
            .push(alias)
            .push(".")
            .ident(&soft.at.name)
            .push(" is not null) as is_deleted"),
        None => q.push("(1 = 0) as is_deleted"),
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn moderators_may_moderate_content_but_not_delete_sessions_guilds_or_users() {
        use Permission::*;
        for p in [DeleteMessages, EditContent, DeleteContent] {
            assert!(p.allows(Role::Moderator) && p.allows(Role::Admin));
        }
        for p in [
            DeleteChatSessions,
            RepairOrphanSessions,
            DeleteGuilds,
            DeleteUsers,
        ] {
            assert!(!p.allows(Role::Moderator) && p.allows(Role::Admin));
        }
        for p in [DeleteMessages, DeleteUsers] {
            assert!(!p.allows(Role::User));
        }
    }
}
