//! Users and groups per container id (libsinsp `sinsp_usergroup_manager`): seeded from the
//! capture's user list, completed on the host with the local user database (NSS), as
//! libsinsp does when a new uid/gid shows up on clone/execve/setuid.

use std::collections::HashMap;

/// One user entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub uid: u32,
    pub gid: u32,
    pub name: Vec<u8>,
    pub homedir: Vec<u8>,
    pub shell: Vec<u8>,
}

/// One group entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupInfo {
    pub gid: u32,
    pub name: Vec<u8>,
}

/// Users and groups keyed by container id ("" = host).
#[derive(Debug, Clone, Default)]
pub struct UserGroups {
    users: HashMap<String, HashMap<u32, UserInfo>>,
    groups: HashMap<String, HashMap<u32, GroupInfo>>,
    /// Look unknown host ids up in the local user database (`getpwuid`/`getgrgid`).
    pub use_host_db: bool,
}

impl UserGroups {
    pub fn new(use_host_db: bool) -> UserGroups {
        UserGroups {
            use_host_db,
            ..UserGroups::default()
        }
    }

    pub fn user(&self, container_id: &str, uid: u32) -> Option<&UserInfo> {
        self.users.get(container_id)?.get(&uid)
    }

    pub fn group(&self, container_id: &str, gid: u32) -> Option<&GroupInfo> {
        self.groups.get(container_id)?.get(&gid)
    }

    /// Adds or updates a named user (capture user list, `useradded` events). NSS entries
    /// (`+name`, `-name`) are ignored.
    pub fn add_user(&mut self, container_id: &str, user: UserInfo) {
        if matches!(user.name.first(), Some(b'+' | b'-')) {
            return;
        }
        self.users
            .entry(container_id.to_owned())
            .or_default()
            .insert(user.uid, user);
    }

    pub fn add_group(&mut self, container_id: &str, group: GroupInfo) {
        if matches!(group.name.first(), Some(b'+' | b'-')) {
            return;
        }
        self.groups
            .entry(container_id.to_owned())
            .or_default()
            .insert(group.gid, group);
    }

    pub fn remove_user(&mut self, container_id: &str, uid: u32) {
        if let Some(m) = self.users.get_mut(container_id) {
            m.remove(&uid);
        }
    }

    pub fn remove_group(&mut self, container_id: &str, gid: u32) {
        if let Some(m) = self.groups.get_mut(container_id) {
            m.remove(&gid);
        }
    }

    /// A thread got credentials `uid`/`gid` (clone, execve, setuid, ...): on the host, load
    /// unknown ids from the local database, as `add_user(.., name = null)` does.
    pub fn touch(&mut self, container_id: &str, uid: u32, gid: u32) {
        if !container_id.is_empty() || !self.use_host_db {
            return;
        }
        if uid != u32::MAX
            && self.user("", uid).is_none()
            && let Ok(Some(u)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        {
            self.add_user(
                "",
                UserInfo {
                    uid: u.uid.as_raw(),
                    gid: u.gid.as_raw(),
                    name: u.name.into_bytes(),
                    homedir: u.dir.into_os_string().into_encoded_bytes(),
                    shell: u.shell.into_os_string().into_encoded_bytes(),
                },
            );
        }
        if gid != u32::MAX && self.group("", gid).is_none() {
            let name = match nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)) {
                Ok(Some(g)) => g.name.into_bytes(),
                _ if gid == 0 => b"root".to_vec(),
                _ => Vec::new(),
            };
            if !name.is_empty() {
                self.add_group("", GroupInfo { gid, name });
            }
        }
    }

    /// `user.name` rules: the table's name, `root` for uid 0, else `<NA>`.
    pub fn user_name(&self, container_id: &str, uid: u32) -> &[u8] {
        match self.user(container_id, uid) {
            Some(u) => &u.name,
            None if uid == 0 => b"root",
            None => b"<NA>",
        }
    }

    /// `group.name` rules: the table's name, `root` for gid 0, else `<NA>`.
    pub fn group_name(&self, container_id: &str, gid: u32) -> &[u8] {
        match self.group(container_id, gid) {
            Some(g) => &g.name,
            None if gid == 0 => b"root",
            None => b"<NA>",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fall_back_like_libsinsp() {
        let mut ug = UserGroups::new(false);
        ug.add_user(
            "",
            UserInfo {
                uid: 1000,
                gid: 1000,
                name: b"alice".to_vec(),
                ..UserInfo::default()
            },
        );
        assert_eq!(ug.user_name("", 1000), b"alice");
        assert_eq!(ug.user_name("", 0), b"root");
        assert_eq!(ug.user_name("", 1001), b"<NA>");
        assert_eq!(ug.user_name("abc", 1000), b"<NA>");
        assert_eq!(ug.group_name("", 0), b"root");
        ug.add_user(
            "",
            UserInfo {
                uid: 5,
                name: b"+nis".to_vec(),
                ..UserInfo::default()
            },
        );
        assert!(ug.user("", 5).is_none());
    }
}
