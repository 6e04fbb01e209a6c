//! A MariaDB server of a test's own: a new data directory in a temporary directory, on
//! a free port and a socket of its own, with TLS from a certificate authority the test
//! makes (the `openssl` tool, [`crate::certs`]) and a user with a password over TCP. A
//! test may stop it (SIGSTOP), kill it and start it again without touching the shared
//! server on 3306.
//!
//! Missing MariaDB server binaries or `openssl` fail the test loudly (`.ci/run`
//! installs them). As root, the server runs with `--user=root`. When the test process
//! ends, a watcher stops the server and removes its directory, also after a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::certs::{free_port, is_root, make_certificates};

pub struct ThrowawayMariaDb {
    pub dir: PathBuf,
    pub port: u16,
    /// The Unix socket.
    pub socket: PathBuf,
    /// The authority that signed the server's certificate (for `ssl-ca`).
    pub ca: PathBuf,
    /// Another authority, which signed nothing this server has.
    pub wrong_ca: PathBuf,
    data: PathBuf,
    server: Mutex<Option<Child>>,
}

impl ThrowawayMariaDb {
    /// Initialises and starts a server: TLS on with a certificate for `localhost` only,
    /// root without a password (reached over the socket by the test itself).
    pub fn start() -> ThrowawayMariaDb {
        for tool in ["mariadb-install-db", "mariadbd", "mariadb", "mariadb-admin"] {
            assert!(
                Command::new("sh")
                    .args([
                        "-c",
                        &format!("command -v {tool} || test -x /usr/sbin/{tool}")
                    ])
                    .stdout(Stdio::null())
                    .status()
                    .unwrap()
                    .success(),
                "these tests start a MariaDB server of their own and need {tool} \
                 (Debian's mariadb-server and mariadb-client; .ci/run installs them)"
            );
        }
        let dir = std::env::temp_dir().join(format!("modcon-my-{}", uuid::Uuid::new_v4().simple()));
        let data = dir.join("data");
        std::fs::create_dir_all(&dir).unwrap();
        let (ca, wrong_ca) = make_certificates(&dir);
        watch_for_exit(&dir);
        let mut install = Command::new("mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", path(&data)))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
        if is_root() {
            install.arg("--user=root");
        }
        let out = install.output().expect("mariadb-install-db runs");
        assert!(
            out.status.success(),
            "mariadb-install-db failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let server = ThrowawayMariaDb {
            port: free_port(),
            socket: dir.join("sock"),
            ca,
            wrong_ca,
            data,
            server: Mutex::new(None),
            dir,
        };
        server.run();
        server
    }

    /// Starts `mariadbd` on the data directory and waits until it answers.
    pub fn run(&self) {
        let mut command = Command::new(mariadbd());
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", path(&self.data)))
            .arg(format!("--socket={}", path(&self.socket)))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!(
                "--pid-file={}",
                path(&self.dir.join("mariadbd.pid"))
            ))
            .arg(format!(
                "--log-error={}",
                path(&self.dir.join("server.log"))
            ))
            .arg(format!("--ssl-ca={}", path(&self.ca)))
            .arg(format!("--ssl-cert={}", path(&self.dir.join("server.crt"))))
            .arg(format!("--ssl-key={}", path(&self.dir.join("server.key"))))
            .args([
                "--skip-log-bin",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M",
                // Written to the OS at each commit: survives the server being killed.
                "--innodb-flush-log-at-trx-commit=2",
                "--max-connections=60",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if is_root() {
            command.arg("--user=root");
        }
        let child = command.spawn().expect("mariadbd starts");
        *self.server.lock().unwrap() = Some(child);
        let guard = Instant::now() + Duration::from_secs(60);
        loop {
            let ping = Command::new("mariadb-admin")
                .arg("--no-defaults")
                .arg(format!("--socket={}", path(&self.socket)))
                .args(["-u", "root", "--connect-timeout=2", "ping"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            if ping.success() {
                return;
            }
            assert!(
                Instant::now() < guard,
                "MariaDB did not come up:\n{}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs SQL as root over the socket (the `mariadb` tool), failing the test on error;
    /// returns the rows, tab-separated.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        let out = Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", path(&self.socket)))
            .args(["-u", "root", "-N", "-B", "-e", sql, database])
            .output()
            .expect("mariadb runs");
        assert!(
            out.status.success(),
            "mariadb {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A user that signs in with `password` from anywhere, over TCP or the socket, with
    /// every right on every database, and a new database `database`.
    pub fn create_user_and_database(&self, user: &str, password: &str, database: &str) {
        let password = password.replace('\'', "''");
        self.sql(
            "mysql",
            &format!(
                "create user '{user}'@'%' identified by '{password}';\
                 create user '{user}'@'localhost' identified by '{password}';\
                 grant all on *.* to '{user}'@'%';\
                 grant all on *.* to '{user}'@'localhost';\
                 create database `{database}`"
            ),
        );
    }

    /// Root's URL over the socket (no password).
    pub fn socket_url(&self, database: &str) -> String {
        format!(
            "mysql://root@localhost/{database}?socket={}",
            path(&self.socket)
        )
    }

    fn pid(&self) -> u32 {
        self.server.lock().unwrap().as_ref().expect("running").id()
    }

    /// Stops the server (SIGSTOP): the kernel still accepts TCP connections, and
    /// nothing answers.
    pub fn freeze(&self) {
        signal(self.pid(), "STOP");
    }

    /// Lets it run again (SIGCONT).
    pub fn thaw(&self) {
        signal(self.pid(), "CONT");
    }

    /// Kills the server outright (SIGKILL), as a crash or an out-of-memory kill would;
    /// [`ThrowawayMariaDb::run`] starts it again on the same data.
    pub fn kill(&self) {
        if let Some(mut child) = self.server.lock().unwrap().take() {
            signal(child.id(), "CONT");
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ThrowawayMariaDb {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn mariadbd() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/mariadbd");
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from("mariadbd")
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid} (mariadbd)");
}

/// A shell that waits for this test process to end, then kills the server (thawing it
/// first), gives it up to 10 s to be gone (it may be a zombie nobody reaps), and
/// removes its directory.
fn watch_for_exit(dir: &Path) {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 1; done\n\
         if [ -f '{dir}/mariadbd.pid' ]; then\n\
           pid=$(cat '{dir}/mariadbd.pid')\n\
           kill -CONT \"$pid\" 2>/dev/null\n\
           kill -KILL \"$pid\" 2>/dev/null\n\
           for _ in $(seq 50); do kill -0 \"$pid\" 2>/dev/null || break; sleep 0.2; done\n\
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
    assert!(status.success(), "the server's watcher did not start");
}
