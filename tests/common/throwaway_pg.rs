//! A PostgreSQL server of a test's own: a new cluster in a temporary directory, on a
//! free port and a socket directory of its own, with TLS from a certificate authority
//! the test makes (the `openssl` tool) and password authentication over TCP. A test
//! may stop its processes (SIGSTOP) without touching the shared server.
//!
//! Missing PostgreSQL server binaries or `openssl` fail the test loudly (`.ci/run`
//! installs them). As root, the cluster runs as the `postgres` user (initdb refuses
//! root). When the test process ends, a watcher stops the cluster and removes its
//! directory, also after a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::certs::{free_port, is_root, make_certificates};

/// The superuser's password over TCP (the socket trusts local users).
pub const SUPERUSER_PASSWORD: &str = "throwaway-superuser-pw";

pub struct ThrowawayPg {
    pub dir: PathBuf,
    pub port: u16,
    /// The Unix socket directory.
    pub socket_dir: PathBuf,
    /// The authority that signed the server's certificate (for `sslrootcert`).
    pub ca: PathBuf,
    /// Another authority, which signed nothing this server has.
    pub wrong_ca: PathBuf,
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
}

impl ThrowawayPg {
    /// Initialises and starts a cluster: TLS on with a certificate for `localhost`
    /// only, scram passwords over TCP, trust on the socket.
    pub fn start() -> ThrowawayPg {
        let bin = server_bin_dir();
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!("modcon-pg-{}", uuid::Uuid::new_v4().simple()));
        let data = dir.join("data");
        let socket_dir = dir.join("sock");
        std::fs::create_dir_all(&socket_dir).unwrap();
        let port = free_port();
        let (ca, wrong_ca) = make_certificates(&dir);
        if as_postgres {
            chown_to_postgres(&dir);
        }
        watch_for_exit(&bin, &dir, &data, as_postgres);
        let pw_file = dir.join("superuser-pw");
        std::fs::write(&pw_file, SUPERUSER_PASSWORD).unwrap();
        if as_postgres {
            chown_to_postgres(&pw_file);
        }
        run_checked(
            server_command(&bin, "initdb", as_postgres)
                .args([
                    "-D",
                    &path(&data),
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-A",
                    "trust",
                ])
                .arg(format!("--pwfile={}", path(&pw_file))),
            "initdb",
        );
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             shared_buffers = 16MB\nmax_connections = 40\npassword_encryption = 'scram-sha-256'\n",
            path(&socket_dir),
            path(&dir.join("server.crt")),
            path(&dir.join("server.key")),
        );
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        run_checked(
            server_command(&bin, "pg_ctl", as_postgres)
                .args(["-D", &path(&data), "-l", &path(&dir.join("server.log"))])
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
        ThrowawayPg {
            dir,
            port,
            socket_dir,
            ca,
            wrong_ca,
            bin,
            data,
            as_postgres,
        }
    }

    /// Runs SQL as the superuser over the socket (psql), failing the test on error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", &path(&self.socket_dir), "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", database, "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A role that signs in with `password` over TCP, owning a new database `database`.
    pub fn create_role_and_database(&self, role: &str, password: &str, database: &str) {
        self.psql(
            "postgres",
            &format!("create role {role} login password '{password}'"),
        );
        self.psql(
            "postgres",
            &format!("create database {database} owner {role}"),
        );
    }

    /// The superuser's URL over the socket (trusted, no password).
    pub fn socket_url(&self, database: &str) -> String {
        format!(
            "postgres:///{database}?host={}&port={}&user=postgres",
            path(&self.socket_dir),
            self.port
        )
    }

    /// Every process of the cluster: the postmaster and its children.
    pub fn pids(&self) -> Vec<u32> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        let postmaster: u32 = text.lines().next().unwrap().trim().parse().unwrap();
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Stops every process of the server (SIGSTOP): it accepts TCP connections in the
    /// kernel and answers nothing.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Lets it run again (SIGCONT).
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        // A backend may end between the listing and the signal; the postmaster may not.
        for (i, pid) in self.pids().iter().enumerate() {
            let status = Command::new("kill")
                .arg(format!("-{name}"))
                .arg(pid.to_string())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(
                status.success() || i > 0,
                "kill -{name} {pid} (the postmaster)"
            );
        }
    }
}

impl Drop for ThrowawayPg {
    fn drop(&mut self) {
        self.signal("CONT");
        let _ = server_command(&self.bin, "pg_ctl", self.as_postgres)
            .args(["-D", &path(&self.data), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// The newest installed PostgreSQL's server binaries.
fn server_bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return bin;
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if bin.join("initdb").exists() {
            return bin;
        }
    }
    panic!(
        "these tests start a PostgreSQL server of their own and need its binaries \
         (initdb, pg_ctl, postgres: Debian's postgresql package; .ci/run installs it)"
    );
}

fn server_command(bin: &Path, tool: &str, as_postgres: bool) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        command
    } else {
        Command::new(bin.join(tool))
    }
}

fn run_checked(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chown_to_postgres(p: &Path) {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(p)
        .status()
        .unwrap();
    assert!(status.success(), "chown postgres {}", p.display());
}

/// A shell that waits for this test process to end, then stops the cluster (thawing
/// it first) and removes its directory.
fn watch_for_exit(bin: &Path, dir: &Path, data: &Path, as_postgres: bool) {
    let pg_ctl = if as_postgres {
        format!("runuser -u postgres -- '{}'", path(&bin.join("pg_ctl")))
    } else {
        format!("'{}'", path(&bin.join("pg_ctl")))
    };
    let data = path(data);
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 1; done\n\
         if [ -f '{data}/postmaster.pid' ]; then\n\
           pm=$(head -n 1 '{data}/postmaster.pid')\n\
           kill -CONT \"$pm\" $(pgrep -P \"$pm\") 2>/dev/null\n\
           {pg_ctl} -D '{data}' -m immediate -w stop >/dev/null 2>&1\n\
         fi\n\
         rm -rf '{dir}'\n",
        parent = std::process::id(),
        dir = path(dir),
    );
    // In the background of a shell that ends at once, so the watcher outlives it.
    let status = Command::new("sh")
        .args(["-c", &format!("(\n{script}) </dev/null >/dev/null 2>&1 &")])
        .status()
        .expect("sh runs");
    assert!(status.success(), "the cluster's watcher did not start");
}
