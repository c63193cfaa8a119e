//! Which Switchyard role a person gets from their groups at the identity provider, written as
//! `ops=admin,ml=editor,*=viewer`: the highest role of any listed group wins, `*` is for
//! everyone else, and without `*` someone in no listed group is refused.

use crate::domain::Role;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleMap {
    /// Group names as the provider spells them (compared exactly).
    groups: BTreeMap<String, Role>,
    everyone_else: Option<Role>,
}

impl RoleMap {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut map = RoleMap {
            groups: BTreeMap::new(),
            everyone_else: None,
        };
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (group, role) = entry
                .rsplit_once('=')
                .ok_or_else(|| format!("`{entry}` is not group=role"))?;
            let (group, role) = (group.trim(), role.trim());
            if group.is_empty() {
                return Err(format!("`{entry}` names no group"));
            }
            let role: Role = role.parse()?;
            let duplicate = if group == "*" {
                map.everyone_else.replace(role).is_some()
            } else {
                map.groups.insert(group.to_string(), role).is_some()
            };
            if duplicate {
                return Err(format!("group `{group}` is listed twice"));
            }
        }
        if map.groups.is_empty() && map.everyone_else.is_none() {
            return Err("it gives no group a role".into());
        }
        Ok(map)
    }

    /// The role for someone in `groups`, or `None` when none of them has one.
    pub fn role_for(&self, groups: &[String]) -> Option<Role> {
        groups
            .iter()
            .filter_map(|g| self.groups.get(g).copied())
            .reduce(|a, b| if a.includes(b) { a } else { b })
            .or(self.everyone_else)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn the_highest_role_of_any_group_wins_and_star_covers_the_rest() {
        let map = RoleMap::parse("ops=admin, ml=editor ,*=viewer").unwrap();
        assert_eq!(map.role_for(&groups(&["ml", "ops"])), Some(Role::Admin));
        assert_eq!(map.role_for(&groups(&["ml"])), Some(Role::Editor));
        assert_eq!(map.role_for(&groups(&["sales"])), Some(Role::Viewer));
        assert_eq!(map.role_for(&[]), Some(Role::Viewer));
    }

    #[test]
    fn without_star_unlisted_groups_get_nothing() {
        let map = RoleMap::parse("ops=admin,ml=editor").unwrap();
        assert_eq!(map.role_for(&groups(&["sales"])), None);
        assert_eq!(map.role_for(&[]), None);
        // Names are compared as the provider spells them.
        assert_eq!(map.role_for(&groups(&["OPS"])), None);
        // Keycloak's full group paths contain '='-free slashes and still work.
        let paths = RoleMap::parse("/eng/ml=editor").unwrap();
        assert_eq!(paths.role_for(&groups(&["/eng/ml"])), Some(Role::Editor));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(RoleMap::parse("ops").unwrap_err().contains("group=role"));
        assert!(RoleMap::parse("ops=root")
            .unwrap_err()
            .contains("unknown role"));
        assert!(RoleMap::parse("ops=admin,ops=viewer")
            .unwrap_err()
            .contains("twice"));
        assert!(RoleMap::parse("=admin").unwrap_err().contains("no group"));
        assert!(RoleMap::parse(" , ")
            .unwrap_err()
            .contains("no group a role"));
    }
}
