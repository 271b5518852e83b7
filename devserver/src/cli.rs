//! Command-line parsing (by hand: every flag is optional and simple).

use std::path::PathBuf;

use crate::ratelimit::RateLimit;
use crate::{Config, MAX_URL_EXPIRY_SECS};

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
Usage: devserver [OPTIONS]

Local S3-protocol store + Hexnode-compatible API + demo web server, all on 127.0.0.1.

Options (all optional; `--flag VALUE` or `--flag=VALUE`):
  --s3-port N         S3 store port (default 9000; 0 = any free port)
  --api-port N        Hexnode-compatible API port (default 9001; 0 = any free port)
  --web-port N        demo / sample backend / dev endpoints port (default 8080; 0 = any)
  --ready-file PATH   once all listeners are bound, write ports, URLs and keys as JSON here
  --data DIR          keep objects in DIR/store (default: a temp dir removed at exit)
  --api-key KEY       the API key (default: a random hx_dev_<32 hex>)
  --bucket NAME       bucket for uploads (default uploads)
  --url-expiry SECS   default presigned URL lifetime, 1..604800 (default 10800 = 180 min)
  --rate-limit SPEC   limit API calls: N/min, N/s or N/<k>s, e.g. 30/min, 5/2s (default off)
  --origin ORIGIN     extra allowed CORS origin (repeatable; loopback origins always allowed)
  --cors FILE         the store bucket's CORS rules, S3's JSON ([rules] or {\"CORSRules\": [...]}),
                      applied as S3 does (default: allowed origins may GET/PUT/HEAD/POST/DELETE)
  --www DIR           static files served at / (default www)
  --pkg DIR           built wasm package served at /pkg/ (default pkg)
  --faults            turn on fault injection: POST /__faults on the web port (tests only)
  --api-no-cors       serve the API without any CORS header, as Hexnode's own API may
  --quiet             print only the API key and the demo address
  -h, --help          print this help
";

/// What the command line asks for.
#[derive(Clone, Debug)]
pub enum Command {
    /// Start the stack.
    Run {
        /// What to start.
        config: Box<Config>,
        /// Print less at start.
        quiet: bool,
    },
    /// Print [`USAGE`] and exit.
    Help,
}

/// A bad command line: the message names the flag. Exit status 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

fn parse_port(flag: &str, v: &str) -> Result<u16, CliError> {
    v.parse::<u16>()
        .map_err(|_| CliError(format!("{flag}: `{v}` is not a port number (0..=65535)")))
}

fn non_empty(flag: &str, v: &str) -> Result<String, CliError> {
    if v.trim().is_empty() {
        Err(CliError(format!("{flag}: must not be empty")))
    } else {
        Ok(v.to_owned())
    }
}

/// True for a name S3 accepts as a bucket: 3 to 63 of `a-z 0-9 . -`,
/// starting and ending with a letter or digit.
#[must_use]
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
}

/// Parses the arguments after the program name.
///
/// # Errors
/// An unknown flag, a missing value or a bad value, naming the flag.
pub fn parse<I, S>(args: I) -> Result<Command, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut config = Config::default();
    let mut quiet = false;
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        if arg == "--quiet" {
            quiet = true;
            continue;
        }
        if arg == "--faults" {
            config.faults = true;
            continue;
        }
        if arg == "--api-no-cors" {
            config.api_no_cors = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        const WITH_VALUE: [&str; 13] = [
            "--s3-port",
            "--api-port",
            "--web-port",
            "--ready-file",
            "--data",
            "--api-key",
            "--bucket",
            "--url-expiry",
            "--rate-limit",
            "--origin",
            "--cors",
            "--www",
            "--pkg",
        ];
        if !WITH_VALUE.contains(&flag.as_str()) {
            return Err(CliError(format!("unknown argument `{arg}` (see --help)")));
        }
        let value = match inline {
            Some(v) => v,
            None => args
                .next()
                .ok_or_else(|| CliError(format!("{flag}: missing value")))?,
        };
        let v = value.as_str();
        match flag.as_str() {
            "--s3-port" => config.s3_port = parse_port(&flag, v)?,
            "--api-port" => config.api_port = parse_port(&flag, v)?,
            "--web-port" => config.web_port = parse_port(&flag, v)?,
            "--ready-file" => config.ready_file = Some(PathBuf::from(non_empty(&flag, v)?)),
            "--data" => config.data_dir = Some(PathBuf::from(non_empty(&flag, v)?)),
            "--api-key" => {
                let key = non_empty(&flag, v)?;
                if key.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
                    return Err(CliError(format!(
                        "{flag}: must be printable ASCII without spaces"
                    )));
                }
                config.api_key = Some(key);
            }
            "--bucket" => {
                if !valid_bucket_name(v) {
                    return Err(CliError(format!(
                        "{flag}: `{v}` is not a valid S3 bucket name (3-63 of a-z 0-9 . -)"
                    )));
                }
                config.bucket = v.to_owned();
            }
            "--url-expiry" => {
                config.url_expiry_secs = v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_URL_EXPIRY_SECS).contains(n))
                    .ok_or_else(|| {
                        CliError(format!(
                            "{flag}: `{v}` is not a number of seconds in 1..={MAX_URL_EXPIRY_SECS}"
                        ))
                    })?;
            }
            "--rate-limit" => {
                config.rate_limit = Some(
                    v.parse::<RateLimit>()
                        .map_err(|e| CliError(format!("{flag}: {e}")))?,
                );
            }
            "--origin" => {
                let o = non_empty(&flag, v)?;
                if !(o.starts_with("http://") || o.starts_with("https://")) {
                    return Err(CliError(format!(
                        "{flag}: `{o}` is not an origin like http://host:port"
                    )));
                }
                config.extra_origins.push(o);
            }
            "--cors" => {
                let path = non_empty(&flag, v)?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| CliError(format!("{flag}: cannot read `{path}`: {e}")))?;
                let json: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| CliError(format!("{flag}: `{path}` is not JSON: {e}")))?;
                config.bucket_cors = Some(
                    crate::bucket_cors::BucketCors::parse(&json)
                        .map_err(|e| CliError(format!("{flag}: `{path}`: {e}")))?,
                );
            }
            "--www" => config.www_dir = PathBuf::from(non_empty(&flag, v)?),
            "--pkg" => config.pkg_dir = PathBuf::from(non_empty(&flag, v)?),
            _ => unreachable!("flag list and match agree"),
        }
    }
    Ok(Command::Run {
        config: Box::new(config),
        quiet,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<(Config, bool), CliError> {
        match parse(args.iter().copied())? {
            Command::Run { config, quiet } => Ok((*config, quiet)),
            Command::Help => panic!("unexpected help"),
        }
    }

    #[test]
    fn defaults() {
        let (c, quiet) = run(&[]).unwrap();
        assert_eq!((c.s3_port, c.api_port, c.web_port), (9000, 9001, 8080));
        assert_eq!(c.bucket, "uploads");
        assert_eq!(c.url_expiry_secs, 10_800);
        assert!(c.rate_limit.is_none() && c.api_key.is_none() && c.data_dir.is_none());
        assert!(!c.faults && !c.api_no_cors);
        assert_eq!(c.www_dir, PathBuf::from("www"));
        assert_eq!(c.pkg_dir, PathBuf::from("pkg"));
        assert!(!quiet);
    }

    #[test]
    fn all_flags() {
        let (c, quiet) = run(&[
            "--s3-port",
            "0",
            "--api-port=1",
            "--web-port",
            "2",
            "--ready-file",
            "r.json",
            "--data",
            "d",
            "--api-key",
            "k",
            "--bucket",
            "b-1",
            "--url-expiry",
            "60",
            "--rate-limit",
            "5/2s",
            "--origin",
            "http://a",
            "--origin=https://b",
            "--www",
            "w",
            "--pkg",
            "p",
            "--quiet",
            "--faults",
            "--api-no-cors",
        ])
        .unwrap();
        assert_eq!((c.s3_port, c.api_port, c.web_port), (0, 1, 2));
        assert_eq!(c.ready_file, Some(PathBuf::from("r.json")));
        assert_eq!(c.data_dir, Some(PathBuf::from("d")));
        assert_eq!(c.api_key.as_deref(), Some("k"));
        assert_eq!(c.bucket, "b-1");
        assert_eq!(c.url_expiry_secs, 60);
        assert_eq!(c.rate_limit.unwrap().max, 5);
        assert_eq!(
            c.extra_origins,
            vec!["http://a".to_owned(), "https://b".to_owned()]
        );
        assert_eq!(
            (c.www_dir, c.pkg_dir),
            (PathBuf::from("w"), PathBuf::from("p"))
        );
        assert!(quiet);
        assert!(c.faults && c.api_no_cors);
    }

    #[test]
    fn cors_reads_s3_rules_from_a_file() {
        let path = std::env::temp_dir().join(format!("devserver-cors-{}.json", std::process::id()));
        std::fs::write(&path, r#"[{"AllowedOrigins": ["https://your.app"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["content-type"]}]"#).unwrap();
        let (c, _) = run(&["--cors", path.to_str().unwrap()]).unwrap();
        std::fs::write(&path, r#"[{"AllowedOrigins": ["https://your.app"]}]"#).unwrap();
        let e = run(&["--cors", path.to_str().unwrap()]).unwrap_err();
        let _ = std::fs::remove_file(&path);
        let rules = c.bucket_cors.unwrap();
        assert!(rules
            .allowed("https://your.app", "PUT", &["content-type".to_owned()])
            .is_some());
        assert!(rules.allowed("http://127.0.0.1:1", "PUT", &[]).is_none());
        assert!(
            e.0.contains("--cors") && e.0.contains("AllowedMethods"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_flag() {
        for (args, flag) in [
            (&["--s3-port", "x"][..], "--s3-port"),
            (&["--api-port", "70000"][..], "--api-port"),
            (&["--url-expiry", "0"][..], "--url-expiry"),
            (&["--url-expiry", "604801"][..], "--url-expiry"),
            (&["--rate-limit", "fast"][..], "--rate-limit"),
            (&["--bucket", "UP"][..], "--bucket"),
            (&["--origin", "evil"][..], "--origin"),
            (&["--cors", "/nonexistent/cors.json"][..], "--cors"),
            (&["--cors", "Cargo.toml"][..], "is not JSON"),
            (&["--web-port"][..], "--web-port"),
            (&["--bogus"][..], "--bogus"),
            (&["--quiet=1"][..], "--quiet=1"),
            (&["--faults=yes"][..], "--faults=yes"),
            (&["--api-no-cors=1"][..], "--api-no-cors=1"),
        ] {
            let e = run(args).unwrap_err();
            assert!(e.0.contains(flag), "{e} should name {flag}");
        }
        assert!(matches!(parse(["--help"]), Ok(Command::Help)));
    }
}
