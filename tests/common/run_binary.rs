//! The real binary run by the connection tests: in a home and data directory of its
//! own with every log line written, as a command or as the console in tmux.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// A run of the binary in a home and data directory of its own, with every log line
/// written (trace), nothing inherited from the developer's environment.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub log: String,
}

impl Run {
    /// Everything the run showed or wrote.
    pub fn everything(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}\n--- log\n{}",
            self.stdout, self.stderr, self.log
        )
    }
}

pub struct Home {
    pub dir: PathBuf,
}

impl Home {
    pub fn new() -> Home {
        let dir = std::env::temp_dir().join(format!("modcon-conn-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Home { dir }
    }

    /// A file only its owner can read (as password files must be).
    pub fn secret_file(&self, name: &str, text: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path.display().to_string()
    }

    pub fn config(&self, database_section: &str) -> String {
        let log = self.dir.join("modcon.log");
        self.secret_file(
            "config.toml",
            &format!(
                "[database]\n{database_section}\n[log]\nfile = \"{}\"\nlevel = \"trace\"\n",
                log.display()
            ),
        )
    }

    pub fn command(&self, config: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new("setsid");
        command
            .arg("--wait")
            .arg(env!("CARGO_BIN_EXE_modcon"))
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("MODCON_USER")
            .env_remove("MODCON_PASSWORD_FILE")
            .env_remove("MODCON_CONFIG")
            .env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE")
            .env("HOME", &self.dir)
            .env("MODCON_DATA_DIR", &self.dir)
            .env("MODCON_LOG", "trace")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    pub fn run(&self, config: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = self.command(config, args, env).output().unwrap();
        self.finish(out)
    }

    pub fn finish(&self, out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            log: std::fs::read_to_string(self.dir.join("modcon.log")).unwrap_or_default(),
        }
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits for a child, failing loudly rather than hanging if it never ends.
pub fn wait_or_fail(mut child: Child, home: &Home, what: &str) -> Run {
    let guard = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            return home.finish(child.wait_with_output().unwrap());
        }
        if Instant::now() > guard {
            let _ = child.kill();
            let run = home.finish(child.wait_with_output().unwrap());
            panic!("{what} never ended:\n{}", run.everything());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The console in a tmux server of its own, in `home`.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(home: &Home, config: &str, env: &[(String, String)], args: &[&str]) -> Tmux {
        let socket = format!("modcon-conn-{}", Uuid::new_v4().simple());
        let exports: String = env
            .iter()
            .map(|(k, v)| format!("export {k}='{v}'\n"))
            .collect();
        let script = format!(
            "unset DATABASE_URL MODCON_CONFIG MODCON_USER PGPASSWORD PGPASSFILE\n\
             export TERM=xterm-256color HOME='{home}' MODCON_DATA_DIR='{home}' MODCON_LOG=trace\n\
             {exports}\
             '{binary}' --config '{config}' {args}\n\
             echo MODCON-EXIT=$?\n\
             sleep 600\n",
            home = home.dir.display(),
            binary = env!("CARGO_BIN_EXE_modcon"),
            args = args.join(" "),
        );
        let path = home.dir.join(format!("{socket}.sh"));
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(script.as_bytes()).unwrap();
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "conn",
            ])
            .args(["-x", "100", "-y", "30"])
            .arg(format!("sh '{}'", path.display()))
            .status()
            .expect("tmux is installed (.ci/run installs it)");
        assert!(status.success(), "tmux did not start");
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "conn"])
    }

    pub fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.tmux(&["send-keys", "-t", "conn", key]);
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    pub fn text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "conn", "-l", text]);
    }

    /// Waits for `needle` on screen; fails loudly (with the screen) rather than hang.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_until(needle, |screen| screen.contains(needle))
    }

    pub fn wait_until_gone(&self, needle: &str) -> String {
        self.wait_until(needle, |screen| !screen.contains(needle))
    }

    pub fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let guard = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < guard,
                "never came to pass: {what:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}
