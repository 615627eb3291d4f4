//! The exporter binary's web side without AWS (the endpoint is a closed port, so every cycle
//! fails fast): TLS with certificate rotation, basic auth on every path, a corrupt state file,
//! a bad configuration.

mod daemon_support;

use std::time::Duration;

use daemon_support::*;

const LIMIT: Duration = Duration::from_secs(60);

fn closed_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

fn self_signed() -> (String, String) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

fn tls_client(ca_pem: &str, user: Option<(&str, &str)>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .pool_max_idle_per_host(0);
    if let Some((u, p)) = user {
        use base64::Engine;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
            .parse()
            .unwrap(),
        );
        b = b.default_headers(headers);
    }
    b.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_basic_auth_on_every_path_and_certificates_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert1, key1) = self_signed();
    std::fs::write(dir.path().join("tls.crt"), &cert1).unwrap();
    std::fs::write(dir.path().join("tls.key"), &key1).unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\nbasic_auth_users:\n  prometheus: '{hash}'\n"),
    )
    .unwrap();
    let config = write_config(
        dir.path(),
        &closed_endpoint(),
        &dir.path().join("state.json"),
        "1h",
        "",
    );
    let port = free_port();
    let exp = Exporter::start(
        &config,
        port,
        &dir.path().join("log"),
        &["--web.config.file", web.to_str().unwrap()],
    );
    let base = format!("https://localhost:{port}");
    let anon = tls_client(&cert1, None);
    let authed = tls_client(&cert1, Some(("prometheus", "s3cret")));
    let wrong = tls_client(&cert1, Some(("prometheus", "nope")));

    // Wait for the listener.
    let start = std::time::Instant::now();
    loop {
        if anon.get(format!("{base}/-/healthy")).send().await.is_ok() {
            break;
        }
        assert!(
            start.elapsed() < LIMIT,
            "no TLS listener; log:\n{}",
            exp.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in [
        "/",
        "/metrics",
        "/-/healthy",
        "/-/ready",
        "/findings",
        "/nope",
    ] {
        let r = anon.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path} without credentials");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        let r = wrong.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path} with a wrong password");
    }
    let r = authed.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("ecr_exposure_build_info"));
    assert_eq!(
        authed
            .get(format!("{base}/-/healthy"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        authed
            .get(format!("{base}/nope"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/-/healthy"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status().as_u16() != 200);

    // Rotate: a new certificate in place; new connections get it without a restart.
    let (cert2, key2) = self_signed();
    let new_client = tls_client(&cert2, Some(("prometheus", "s3cret")));
    assert!(
        new_client
            .get(format!("{base}/-/healthy"))
            .send()
            .await
            .is_err()
    );
    std::fs::write(dir.path().join("tls.key"), &key2).unwrap();
    std::fs::write(dir.path().join("tls.crt"), &cert2).unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Ok(r) = new_client.get(format!("{base}/-/healthy")).send().await {
            assert_eq!(r.status().as_u16(), 200);
            break;
        }
        assert!(
            start.elapsed() < LIMIT,
            "rotated certificate not served; log:\n{}",
            exp.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        authed
            .get(format!("{base}/-/healthy"))
            .send()
            .await
            .is_err(),
        "old certificate retired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_state_file_is_moved_aside_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, "{\"version\": 1, \"findings\": [tru").unwrap();
    let config = write_config(dir.path(), &closed_endpoint(), &state, "1h", "");
    let exp = Exporter::start(&config, free_port(), &dir.path().join("log"), &[]);
    let client = reqwest::Client::new();
    let body = wait_for(&client, &exp.url("/metrics"), LIMIT, &exp, |s, _| s == 200).await;
    assert!(
        body.lines()
            .any(|l| l == "ecr_exposure_state_load_failures_total 1"),
        "{body}"
    );
    let aside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("state.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "moved aside once");
    assert!(exp.log_text().contains("moved aside"), "{}", exp.log_text());
    // The daemon runs on: the (failing) first cycle completes and it becomes ready.
    wait_for(&client, &exp.url("/-/ready"), LIMIT, &exp, |s, _| s == 200).await;
    assert_eq!(get(&client, &exp.url("/-/healthy")).await.unwrap().0, 200);
}

#[test]
fn bad_configuration_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "scan:\n  interval: soon\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ecr-exposure-exporter"))
        .arg("--config.file")
        .arg(&config)
        .arg("--web.listen-address")
        .arg(format!("127.0.0.1:{}", free_port()))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scan.interval"), "{err}");
}
