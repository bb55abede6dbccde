//! The built-in container plugin's state: the container id of each thread, derived from its
//! cgroups exactly as the container plugin 0.7.1 does (runtime matchers podman, docker, cri,
//! containerd, lxc, libvirt-lxc, bpm, in that order), and the container metadata map, seeded
//! with the `host` entry and filled from container events of the capture.

use std::collections::HashMap;
use std::sync::LazyLock;

/// A mount of a container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mount {
    pub source: String,
    pub dest: String,
    pub mode: String,
    pub rdwr: bool,
    pub propagation: String,
}

impl Mount {
    /// `source:dest:mode:rdwr:propagation`.
    pub fn text(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.source, self.dest, self.mode, self.rdwr, self.propagation
        )
    }
}

/// Container metadata (`container_info` of the plugin).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerInfo {
    pub id: String,
    pub full_id: String,
    pub name: String,
    /// `docker`, `cri-o`, `host`, ...
    pub ty: String,
    pub image: String,
    pub image_id: String,
    pub image_repo: String,
    pub image_tag: String,
    pub image_digest: String,
    pub privileged: bool,
    pub host_pid: bool,
    pub host_network: bool,
    pub host_ipc: bool,
    pub mounts: Vec<Mount>,
    pub labels: Vec<(String, String)>,
    pub ip: String,
    pub cni_json: String,
    pub user: String,
    pub created_time: i64,
    pub is_pod_sandbox: bool,
    pub pod_sandbox_id: String,
    pub pod_sandbox_labels: Vec<(String, String)>,
}

impl ContainerInfo {
    /// The entry the plugin pre-seeds for the host (id "").
    pub fn host() -> ContainerInfo {
        ContainerInfo {
            id: "host".into(),
            full_id: "host".into(),
            name: "host".into(),
            ty: "host".into(),
            ..ContainerInfo::default()
        }
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Container metadata by container id ("" = host), and the plugin's cache of cgroup matches.
#[derive(Debug, Clone)]
pub struct Containers {
    map: HashMap<String, ContainerInfo>,
    /// cgroup path → (container id, matcher that recognised it); `m_cgroup_cinfo_cache`.
    matches: HashMap<Vec<u8>, Option<(String, &'static str)>>,
}

impl Default for Containers {
    fn default() -> Containers {
        let mut map = HashMap::new();
        map.insert(String::new(), ContainerInfo::host());
        Containers {
            map,
            matches: HashMap::new(),
        }
    }
}

impl Containers {
    /// The container id of a thread from its cgroups (first path a matcher recognises, "" for
    /// the host). Matchers that need no runtime lookup (lxc, libvirt-lxc, bpm) also record the
    /// container's metadata, as the plugin does.
    pub fn id_from_cgroups<'c>(&mut self, cgroups: impl IntoIterator<Item = &'c [u8]>) -> String {
        for path in cgroups {
            if path.is_empty() {
                continue;
            }
            let hit = match self.matches.get(path) {
                Some(hit) => hit.clone(),
                None => {
                    let hit = match_cgroup_typed(&String::from_utf8_lossy(path));
                    self.matches.insert(path.to_vec(), hit.clone());
                    hit
                }
            };
            if let Some((id, ty)) = hit
                && !id.is_empty()
            {
                if matches!(ty, "lxc" | "libvirt-lxc" | "bpm") && !self.map.contains_key(&id) {
                    self.insert(ContainerInfo {
                        id: id.clone(),
                        ty: ty.to_owned(),
                        ..ContainerInfo::default()
                    });
                }
                return id;
            }
        }
        String::new()
    }

    pub fn get(&self, id: &str) -> Option<&ContainerInfo> {
        self.map.get(id)
    }

    pub fn insert(&mut self, info: ContainerInfo) {
        self.map.insert(info.id.clone(), info);
    }

    pub fn remove(&mut self, id: &str) -> Option<ContainerInfo> {
        if id.is_empty() {
            return None;
        }
        self.map.remove(id)
    }
}

const CONTAINER_ID_LENGTH: usize = 64;
const REPORTED_CONTAINER_ID_LENGTH: usize = 12;

/// The container id of a thread from its cgroups: the first cgroup path (in order) a
/// runtime matcher recognises; "" when none does (a host process).
pub fn container_id_from_cgroups<'a>(cgroups: impl IntoIterator<Item = &'a [u8]>) -> String {
    for path in cgroups {
        if path.is_empty() {
            continue;
        }
        let path = String::from_utf8_lossy(path);
        if let Some(id) = match_cgroup(&path)
            && !id.is_empty()
        {
            return id;
        }
    }
    String::new()
}

/// For matchers that know their container without a runtime lookup (lxc, libvirt-lxc,
/// bpm): the container type the plugin records at once.
pub fn matcher_type(cgroup: &str) -> Option<&'static str> {
    match match_cgroup_typed(cgroup)? {
        (_, ty @ ("lxc" | "libvirt-lxc" | "bpm")) => Some(ty),
        _ => None,
    }
}

/// The matchers of the container plugin in its order.
pub fn match_cgroup(cgroup: &str) -> Option<String> {
    match_cgroup_typed(cgroup).map(|(id, _)| id)
}

/// The first matcher that recognises `cgroup`: the id and the matcher's runtime name.
fn match_cgroup_typed(cgroup: &str) -> Option<(String, &'static str)> {
    const PODMAN: &[(&str, &str)] = &[
        ("/libpod-", ".scope"),
        ("/libpod-", ".scope/container"),
        ("/libpod-", ""),
        ("/libpod-payload-", ".scope"),
        ("/libpod-payload-", ".scope/container"),
        ("/libpod-payload-", ""),
    ];
    const DOCKER: &[(&str, &str)] = &[("/", ""), ("/docker-", ".scope")];
    const CRI: &[(&str, &str)] = &[
        ("/", ""),
        ("/crio-", ""),
        ("/cri-containerd-", ".scope"),
        ("/crio-", ".scope"),
        (":cri-containerd:", ""),
        ("/docker-", ".scope"),
    ];
    let tag = |ty: &'static str| move |id: String| (id, ty);
    match_runc(cgroup, PODMAN, false)
        .map(tag("podman"))
        .or_else(|| match_runc(cgroup, DOCKER, false).map(tag("docker")))
        .or_else(|| match_runc(cgroup, CRI, false).map(tag("cri")))
        .or_else(|| match_containerd(cgroup).map(tag("containerd")))
        .or_else(|| match_lxc(cgroup).map(tag("lxc")))
        .or_else(|| match_libvirt_lxc(cgroup).map(tag("libvirt-lxc")))
        .or_else(|| match_bpm(cgroup).map(tag("bpm")))
}

fn match_runc(cgroup: &str, layouts: &[(&str, &str)], is_containerd: bool) -> Option<String> {
    layouts
        .iter()
        .find_map(|(prefix, suffix)| match_one(cgroup, prefix, suffix, is_containerd))
}

/// `match_one_container_id` of the plugin's runc helper.
fn match_one(cgroup: &str, prefix: &str, suffix: &str, is_containerd: bool) -> Option<String> {
    let bytes = cgroup.as_bytes();
    // memmem: `str::rfind` builds a Two-Way searcher per call, which showed in replay profiles.
    let start = memchr::memmem::rfind(bytes, prefix.as_bytes())? + prefix.len();
    let end = if suffix.is_empty() {
        cgroup.len()
    } else {
        memchr::memmem::rfind(bytes, suffix.as_bytes())?
    };
    if end < start {
        return None;
    }
    let len = end - start;
    // `find_first_not_of(hex, start) >= 64`: compares a position with the length, as upstream.
    let first_not_hex = bytes[start..]
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .map_or(usize::MAX, |p| p + start);
    if len == CONTAINER_ID_LENGTH && first_not_hex >= CONTAINER_ID_LENGTH {
        return Some(cgroup[start..start + REPORTED_CONTAINER_ID_LENGTH].to_owned());
    }
    if len > CONTAINER_ID_LENGTH || len == 0 {
        return None;
    }
    if is_containerd
        && !cgroup.ends_with(".service")
        && !cgroup.ends_with(".slice")
        && !cgroup.ends_with(".scope")
    {
        let n = len.min(REPORTED_CONTAINER_ID_LENGTH);
        return Some(String::from_utf8_lossy(&bytes[start..start + n]).into_owned());
    }
    None
}

/// The containerd matcher: the first `/namespace/` segment, then the runc layout below it.
fn match_containerd(cgroup: &str) -> Option<String> {
    static NAMESPACE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"/([A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*)/").expect("valid regex")
    });
    let m = NAMESPACE.find(cgroup)?;
    match_one(cgroup, m.as_str(), "", true)
}

fn match_lxc(cgroup: &str) -> Option<String> {
    for layout in ["/lxc/", "/lxc.payload/", "/lxc.payload."] {
        if let Some(pos) = cgroup.find(layout) {
            let start = pos + layout.len();
            let end = cgroup[start..]
                .find('/')
                .map_or(cgroup.len(), |p| p + start);
            return Some(cgroup[start..end].to_owned());
        }
    }
    None
}

fn match_libvirt_lxc(cgroup: &str) -> Option<String> {
    if let Some(pos) = cgroup.find(".libvirt-lxc")
        && pos + ".libvirt-lxc".len() == cgroup.len()
        && let Some(slash) = cgroup.rfind('/')
        && slash < pos
    {
        return Some(cgroup[slash + 1..pos].to_owned());
    }
    if let Some(pos) = cgroup.find("-lxc\\x2") {
        let delimiter = if cgroup.contains(".scope/libvirt") {
            ".scope/libvirt"
        } else {
            ".scope"
        };
        // `sizeof("-lxc\\x2")` counts the terminating NUL: one byte past the marker.
        let skip = "-lxc\\x2".len() + 1;
        if let Some(pos2) = cgroup.find(delimiter)
            && pos2 == cgroup.len() - delimiter.len()
            && pos + skip <= pos2
        {
            return Some(cgroup[pos + skip..pos2].to_owned());
        }
    }
    if let Some(pos) = cgroup.find("/libvirt/lxc/") {
        return Some(cgroup[pos + "/libvirt/lxc/".len()..].to_owned());
    }
    None
}

fn match_bpm(cgroup: &str) -> Option<String> {
    let pos = cgroup.find("bpm-")?;
    let start = pos + "bpm-".len();
    let end = cgroup[start..]
        .find(".scope")
        .map_or(cgroup.len(), |p| p + start);
    let id = &cgroup[start..end];
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e";

    #[test]
    fn docker_and_systemd_layouts_truncate_to_12() {
        assert_eq!(
            match_cgroup(&format!("/docker/{ID}")).unwrap(),
            "3ad7b26ded6d"
        );
        assert_eq!(
            match_cgroup(&format!("/system.slice/docker-{ID}.scope")).unwrap(),
            "3ad7b26ded6d"
        );
        assert_eq!(
            match_cgroup(&format!("/kubepods/besteffort/pod1/crio-{ID}")).unwrap(),
            "3ad7b26ded6d"
        );
        assert_eq!(
            match_cgroup(&format!("/machine.slice/libpod-{ID}.scope/container")).unwrap(),
            "3ad7b26ded6d"
        );
    }

    #[test]
    fn host_cgroups_have_no_id() {
        let cgroups: Vec<&[u8]> = vec![b"/user.slice", b"/", b"/system.slice/sshd.service"];
        assert_eq!(container_id_from_cgroups(cgroups), "");
        assert_eq!(container_id_from_cgroups(Vec::<&[u8]>::new()), "");
    }

    #[test]
    fn lxc_and_bpm() {
        assert_eq!(match_cgroup("/lxc/mybox/init.scope").unwrap(), "mybox");
        assert_eq!(match_cgroup("/lxc.payload.web1").unwrap(), "web1");
        assert_eq!(match_cgroup("/bpm-abc_1.scope").unwrap(), "abc_1");
    }

    #[test]
    fn containerd_namespace_layout() {
        assert_eq!(match_cgroup("/default/mytask").unwrap(), "mytask");
        assert!(match_cgroup("/user.slice/user-0.slice").is_none());
    }

    #[test]
    fn host_entry_is_seeded() {
        let c = Containers::default();
        let host = c.get("").unwrap();
        assert_eq!((host.id.as_str(), host.name.as_str()), ("host", "host"));
    }
}
