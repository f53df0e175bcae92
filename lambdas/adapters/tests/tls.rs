//! The HTTP client's TLS, against a real TLS server (`openssl s_server`): a certificate from a
//! root the system trusts is accepted, any other refused, and the roots are read from the
//! system only when the first handshake needs them. `SSL_CERT_FILE` stands in for the system's
//! store, so this test runs in a process of its own (one test in this file).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `openssl` with `args` (split on spaces: none of them holds one).
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("openssl (it comes with the system's TLS tools)");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new P-256 key, unencrypted.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

/// A CA, and a certificate for `localhost` signed by it, named `<name>.pem` / `<name>.key`.
fn authority(dir: &Path, name: &str) {
    let ca = format!("{name}-ca");
    openssl(
        dir,
        &format!(
            "req -x509 {NEW_KEY} -keyout {ca}.key -out {ca}.pem -days 2 -subj /CN={ca} \
             -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
        ),
    );
    openssl(
        dir,
        &format!("req {NEW_KEY} -keyout {name}.key -out {name}.csr -subj /CN=localhost"),
    );
    std::fs::write(
        dir.join(format!("{name}.ext")),
        "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &format!(
            "x509 -req -in {name}.csr -CA {ca}.pem -CAkey {ca}.key -CAcreateserial \
             -out {name}.pem -days 2 -extfile {name}.ext"
        ),
    );
}

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn serve(dir: &Path, name: &str) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "-cert",
            &format!("{name}.pem"),
            "-key",
            &format!("{name}.key"),
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Server(child, port)
}

#[test]
fn certificates_are_checked_against_the_system_roots_loaded_at_the_first_handshake() {
    let dir = tempfile::tempdir().unwrap();
    authority(dir.path(), "trusted");
    authority(dir.path(), "stranger");
    let trusted = serve(dir.path(), "trusted");
    let stranger = serve(dir.path(), "stranger");
    // The client runs in a process of its own whose system roots are the trusted CA alone.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["client_side", "--exact", "--ignored", "--nocapture"])
        .env("SSL_CERT_FILE", dir.path().join("trusted-ca.pem"))
        .env("TLS_TRUSTED_PORT", trusted.1.to_string())
        .env("TLS_STRANGER_PORT", stranger.1.to_string())
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && printed.contains("client side: checked"),
        "{printed}"
    );
}

#[tokio::test]
#[ignore = "the client side of the test above, run by it with the environment it sets"]
async fn client_side() {
    let port = |name| std::env::var(name).expect("run by the test above");
    let http = stk_adapters::http::client().unwrap();
    assert!(
        !stk_tls::roots_loaded(),
        "building the client reads no root"
    );

    let url = format!("https://localhost:{}/", port("TLS_TRUSTED_PORT"));
    let answer = http.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(stk_tls::roots_loaded());

    let url = format!("https://localhost:{}/", port("TLS_STRANGER_PORT"));
    let refused = http.get(url).send().await.unwrap_err();
    let chain: Vec<String> =
        std::iter::successors(Some(&refused as &(dyn std::error::Error + 'static)), |e| {
            e.source()
        })
        .map(|e| format!("{e:?}"))
        .collect();
    assert!(
        chain.iter().any(|e| e.contains("UnknownIssuer")),
        "{chain:?}"
    );
    println!("client side: checked");
}
