//! Tests of the `devserver` binary itself: flag errors, start-up output, the
//! ready file and clean shutdown on SIGTERM / SIGINT.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_devserver"))
}

/// A scratch directory removed on drop (also when a test fails).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(tag: &str) -> Scratch {
    let mut rnd = [0u8; 6];
    getrandom::fill(&mut rnd).unwrap();
    let p = std::env::temp_dir().join(format!("devserver-cli-{tag}-{}", hex::encode(rnd)));
    std::fs::create_dir_all(&p).unwrap();
    Scratch(p)
}

#[test]
fn bad_flag_values_exit_2_naming_the_flag() {
    for (args, flag) in [
        (&["--s3-port", "abc"][..], "--s3-port"),
        (&["--rate-limit", "lots"][..], "--rate-limit"),
        (&["--url-expiry", "0"][..], "--url-expiry"),
        (&["--bucket", "No_Good"][..], "--bucket"),
        (&["--what"][..], "--what"),
    ] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--ready-file"));
}

/// Sends a signal to a child this test started, by its pid.
fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("devserver did not exit after the signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads stdout lines until the `Demo:` line.
fn read_banner(child: &mut Child) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.starts_with("Demo: ");
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

#[test]
fn runs_writes_ready_file_and_cleans_up_on_sigterm() {
    let scratch = scratch("run");
    let dir = scratch.0.clone();
    let ready = dir.join("ready.json");
    let mut child = bin()
        .args([
            "--s3-port",
            "0",
            "--api-port",
            "0",
            "--web-port",
            "0",
            "--ready-file",
        ])
        .arg(&ready)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = read_banner(&mut child);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&ready).unwrap()).unwrap();
    let text = lines.join("\n");
    for key in ["s3_endpoint", "api_base", "web_base", "api_key"] {
        assert!(
            text.contains(v[key].as_str().unwrap()),
            "{key} not printed:\n{text}"
        );
    }
    assert!(
        text.contains(&format!("Demo: {}/", v["web_base"].as_str().unwrap())),
        "{text}"
    );
    let data = lines
        .iter()
        .find_map(|l| l.strip_prefix("Data:"))
        .map(|d| PathBuf::from(d.trim()))
        .expect("data dir line");
    assert!(data.join("store/uploads").is_dir());

    signal(&child, "-TERM");
    assert!(wait_exit(&mut child).success());
    assert!(
        !data.exists(),
        "temp data dir left behind: {}",
        data.display()
    );
}

#[test]
fn quiet_still_prints_key_and_demo_and_stops_on_sigint() {
    let scratch = scratch("quiet");
    let dir = scratch.0.clone();
    let mut child = bin()
        .args([
            "--s3-port",
            "0",
            "--api-port",
            "0",
            "--web-port",
            "0",
            "--quiet",
            "--api-key",
            "hx_quiet_key",
        ])
        .arg("--data")
        .arg(dir.join("data"))
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = read_banner(&mut child);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("hx_quiet_key"), "{lines:?}");
    assert!(lines[1].starts_with("Demo: http://127.0.0.1:"), "{lines:?}");
    signal(&child, "-INT");
    assert!(wait_exit(&mut child).success());
    // A --data dir is kept.
    assert!(dir.join("data/store/uploads").is_dir());
}
