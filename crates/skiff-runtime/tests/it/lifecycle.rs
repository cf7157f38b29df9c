//! Sandbox and container lifecycle against real runc.

use std::time::Duration;

use skiff_cri::{ContainerState, ExitReason, RuntimeService};

use crate::harness::Fixture;

#[tokio::test]
async fn output_is_logged_and_exit_codes_reported() {
    let Some(fx) = Fixture::new("output_is_logged_and_exit_codes_reported") else {
        return;
    };
    let sb = fx.sandbox("echo").await;
    assert!(sb.netns.is_some());
    fx.run(fx.container(&sb, "c-echo", "echo $GREETING world; echo oops >&2; hostname; cat /etc/hosts; cat /sys/class/net/lo/operstate; exit 3")).await;
    let state = fx.wait_exit("c-echo", Duration::from_secs(10)).await;
    let ContainerState::Exited {
        exit_code,
        reason,
        started_at,
        ..
    } = state
    else {
        panic!("not exited: {state:?}")
    };
    assert_eq!((exit_code, reason), (3, ExitReason::Error));
    assert!(started_at.is_some());
    let log = fx.log("c-echo");
    assert!(log.contains(" stdout F hello world\n"), "{log}");
    assert!(log.contains(" stderr F oops\n"), "{log}");
    assert!(log.contains(" stdout F echo\n"), "hostname missing: {log}");
    assert!(log.contains("extra-host"), "/etc/hosts missing: {log}");
    // A fresh network namespace has lo down unless the pause process raised it.
    assert!(
        log.contains(" stdout F unknown\n") || log.contains(" stdout F up\n"),
        "lo not up: {log}"
    );

    fx.run(fx.container(&sb, "c-ok", "true")).await;
    let state = fx.wait_exit("c-ok", Duration::from_secs(10)).await;
    assert!(
        matches!(
            state,
            ContainerState::Exited {
                exit_code: 0,
                reason: ExitReason::Completed,
                ..
            }
        ),
        "{state:?}"
    );

    // What a container writes lands in its writable layer, which the eviction manager
    // measures.
    fx.run(fx.container(&sb, "c-fill", "dd if=/dev/zero of=/fill bs=1024 count=2048"))
        .await;
    fx.wait_exit("c-fill", Duration::from_secs(10)).await;
    let filled = fx.runtime.writable_layer_usage("c-fill").await.unwrap();
    let quiet = fx.runtime.writable_layer_usage("c-ok").await.unwrap();
    assert!(filled >= 2 << 20, "{filled}");
    assert!(quiet < 1 << 20, "{quiet}");
    assert!(fx.runtime.writable_layer_usage("c-none").await.is_err());

    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    // Idempotent.
    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    assert!(fx.runtime.list_containers().await.unwrap().is_empty());
    assert!(fx.runtime.list_sandboxes().await.unwrap().is_empty());
    fx.assert_clean();
}

#[tokio::test]
async fn memory_limit_ends_in_oom_killed() {
    let Some(fx) = Fixture::new("memory_limit_ends_in_oom_killed") else {
        return;
    };
    let sb = fx.sandbox("oom").await;
    let mut cfg = fx.container(
        &sb,
        "c-oom",
        "x=$(head -c 67108864 /dev/zero | tr '\\000' a); echo survived",
    );
    cfg.resources.memory_limit = Some(16 << 20);
    fx.run(cfg).await;
    let state = fx.wait_exit("c-oom", Duration::from_secs(30)).await;
    let ContainerState::Exited {
        exit_code, reason, ..
    } = state
    else {
        panic!("not exited: {state:?}")
    };
    assert_eq!(
        reason,
        ExitReason::OomKilled,
        "exit code {exit_code}, log: {}",
        fx.log("c-oom")
    );
    assert_ne!(exit_code, 0);
    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    fx.assert_clean();
}

#[tokio::test]
async fn stop_honours_sigterm_then_kills_after_grace() {
    let Some(fx) = Fixture::new("stop_honours_sigterm_then_kills_after_grace") else {
        return;
    };
    let sb = fx.sandbox("stop").await;
    fx.run(fx.container(
        &sb,
        "c-polite",
        "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done",
    ))
    .await;
    // The shell is pid 1 of its namespace: ignoring TERM needs no trap, only no handler.
    fx.run(fx.container(
        &sb,
        "c-stubborn",
        "trap '' TERM; echo ready; while true; do sleep 0.1; done",
    ))
    .await;
    for id in ["c-polite", "c-stubborn"] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !fx.log(id).contains("ready") && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            matches!(fx.runtime.container_state(id).await.unwrap(), ContainerState::Running { pid, .. } if pid > 0)
        );
    }

    let started = std::time::Instant::now();
    fx.runtime
        .stop_container("c-polite", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM not honoured quickly"
    );
    let state = fx.runtime.container_state("c-polite").await.unwrap();
    assert!(
        matches!(
            state,
            ContainerState::Exited {
                exit_code: 0,
                reason: ExitReason::Completed,
                ..
            }
        ),
        "{state:?}"
    );
    assert!(fx.log("c-polite").contains(" stdout F got-term\n"));

    let started = std::time::Instant::now();
    fx.runtime
        .stop_container("c-stubborn", Duration::from_millis(500))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500));
    let state = fx.runtime.container_state("c-stubborn").await.unwrap();
    assert!(
        matches!(
            state,
            ContainerState::Exited {
                exit_code: 137,
                reason: ExitReason::Error,
                ..
            }
        ),
        "{state:?}"
    );
    // Idempotent.
    fx.runtime
        .stop_container("c-stubborn", Duration::from_secs(1))
        .await
        .unwrap();

    fx.runtime.remove_container("c-polite").await.unwrap();
    fx.runtime.remove_container("c-polite").await.unwrap();
    assert!(matches!(
        fx.runtime.container_state("c-polite").await,
        Err(skiff_cri::RuntimeError::NotFound(_))
    ));
    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    fx.assert_clean();
}

#[tokio::test]
async fn exec_returns_output_and_exit_code() {
    let Some(fx) = Fixture::new("exec_returns_output_and_exit_code") else {
        return;
    };
    let sb = fx.sandbox("exec").await;
    fx.run(fx.container(&sb, "c-exec", "echo main > /tmp/marker; sleep 1000"))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (out, err) = loop {
        let (out, err) = (SharedBuf::default(), SharedBuf::default());
        let io = skiff_cri::ExecIo {
            stdin: None,
            stdout: Some(Box::new(out.clone())),
            stderr: Some(Box::new(err.clone())),
            resize: None,
            tty: false,
        };
        let cmd = vec![
            "sh".into(),
            "-c".into(),
            "cat /tmp/marker && echo $GREETING && echo bad >&2 && exit 7".into(),
        ];
        let code = fx.runtime.exec("c-exec", cmd, io).await.unwrap();
        if code == 7 || tokio::time::Instant::now() > deadline {
            assert_eq!(code, 7);
            break (out.text(), err.text());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(out, "main\nhello\n");
    assert_eq!(err, "bad\n");

    // stdin reaches the process.
    let out = SharedBuf::default();
    let io = skiff_cri::ExecIo {
        stdin: Some(Box::new(&b"from stdin"[..])),
        stdout: Some(Box::new(out.clone())),
        stderr: None,
        resize: None,
        tty: false,
    };
    assert_eq!(
        fx.runtime
            .exec("c-exec", vec!["cat".into()], io)
            .await
            .unwrap(),
        0
    );
    assert_eq!(out.text(), "from stdin");

    // A missing executable is an error, not a silent exit code.
    let io = skiff_cri::ExecIo {
        stdin: None,
        stdout: None,
        stderr: None,
        resize: None,
        tty: false,
    };
    let result = fx.runtime.exec("c-exec", vec!["/no/such".into()], io).await;
    assert!(
        result.is_err() || result.as_ref().is_ok_and(|c| *c != 0),
        "{result:?}"
    );

    let stats = fx.runtime.stats("c-exec").await.unwrap();
    assert!(stats.memory_working_set > 0, "{stats:?}");
    assert!(stats.cpu_usage_ns > 0, "{stats:?}");
    assert!(fx.runtime.stats(&sb.id).await.unwrap().cpu_usage_ns >= stats.cpu_usage_ns);

    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    fx.assert_clean();
}

#[tokio::test]
async fn containers_survive_a_new_runtime_instance() {
    let Some(mut fx) = Fixture::new("containers_survive_a_new_runtime_instance") else {
        return;
    };
    let sb = fx.sandbox("adopt").await;
    fx.run(fx.container(&sb, "c-long", "sleep 1000")).await;
    let ContainerState::Running { pid, .. } = fx.runtime.container_state("c-long").await.unwrap()
    else {
        panic!("not running")
    };
    // Simulate an agent restart: a fresh runtime on the same root.
    fx.runtime = skiff_runtime::RuncRuntime::new(
        fx.dir.path().join("runtime"),
        crate::harness::RUNC.into(),
        env!("CARGO_BIN_EXE_skiff-runtime-test-shim").into(),
    )
    .unwrap();
    let listed = fx.runtime.list_containers().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sandbox_id, sb.id);
    assert!(
        matches!(listed[0].state, ContainerState::Running { pid: p, .. } if p == pid),
        "{listed:?}"
    );
    assert_eq!(
        fx.runtime.list_sandboxes().await.unwrap(),
        vec![sb.id.clone()]
    );
    // The adopted container's shim still records its exit.
    fx.runtime
        .stop_container("c-long", Duration::from_secs(5))
        .await
        .unwrap();
    let state = fx.runtime.container_state("c-long").await.unwrap();
    assert!(
        matches!(
            state,
            ContainerState::Exited { exit_code: 137, .. }
                | ContainerState::Exited { exit_code: 143, .. }
        ),
        "{state:?}"
    );
    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    fx.assert_clean();
}

#[tokio::test]
async fn failed_create_leaves_nothing_behind() {
    let Some(fx) = Fixture::new("failed_create_leaves_nothing_behind") else {
        return;
    };
    let sb = fx.sandbox("bad").await;
    let mut cfg = fx.container(&sb, "c-bad", "");
    cfg.command = vec!["/no/such/binary".into()];
    let created = fx.runtime.create_container(cfg).await;
    // runc 1.1 checks the executable during create; the error names it and nothing stays.
    match created {
        Err(e) => assert!(e.to_string().contains("/no/such/binary"), "{e}"),
        Ok(()) => panic!("creating a container with a missing executable succeeded"),
    }
    assert!(fx.runtime.list_containers().await.unwrap().is_empty());
    let missing = fx.container(&sb, "c-nosb", "true");
    let missing = skiff_cri::ContainerConfig {
        sandbox_id: "nope".into(),
        ..missing
    };
    assert!(matches!(
        fx.runtime.create_container(missing).await,
        Err(skiff_cri::RuntimeError::NotFound(_))
    ));
    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    fx.assert_clean();
}

#[tokio::test]
async fn pod_containers_share_network_but_not_pids() {
    let Some(fx) = Fixture::new("pod_containers_share_network_but_not_pids") else {
        return;
    };
    let sb = fx.sandbox("share").await;
    // Both stay alive while compared: namespace inode numbers are reused once freed.
    let script = "readlink /proc/self/ns/net; readlink /proc/self/ns/pid; readlink /proc/self/ns/uts; sleep 1000";
    fx.run(fx.container(&sb, "c-a", script)).await;
    fx.run(fx.container(&sb, "c-b", script)).await;
    for id in ["c-a", "c-b"] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while fx.log(id).lines().count() < 3 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let lines = |id: &str| -> Vec<String> {
        fx.log(id)
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap_or_default().to_string())
            .collect()
    };
    let (a, b) = (lines("c-a"), lines("c-b"));
    assert_eq!(a.len(), 3, "{a:?}");
    assert_eq!(a[0], b[0], "network namespace differs");
    assert_ne!(a[1], b[1], "pid namespace shared");
    assert_eq!(a[2], b[2], "uts namespace differs");
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(
        a[0],
        host_net.to_string_lossy(),
        "container on the host network"
    );
    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    fx.assert_clean();
}

#[tokio::test]
async fn terminals_for_containers_and_exec() {
    let Some(fx) = Fixture::new("terminals_for_containers_and_exec") else {
        return;
    };
    let sb = fx.sandbox("tty").await;
    let mut cfg = fx.container(&sb, "c-tty", "echo hi-tty; tty; sleep 1000");
    cfg.tty = true;
    fx.run(cfg).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !fx.log("c-tty").contains("/dev/pts/") && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = fx.log("c-tty");
    assert!(log.contains(" stdout F hi-tty"), "{log}");
    assert!(log.contains(" stdout F /dev/pts/0"), "{log}");

    let out = SharedBuf::default();
    let (resize_tx, resize_rx) = tokio::sync::mpsc::channel(4);
    resize_tx.send((100, 30)).await.unwrap();
    let io = skiff_cri::ExecIo {
        stdin: None,
        stdout: Some(Box::new(out.clone())),
        stderr: None,
        resize: Some(resize_rx),
        tty: true,
    };
    // The sleep lets the resize land before stty reads the size.
    let cmd = vec![
        "sh".into(),
        "-c".into(),
        "sleep 0.5; stty size; tty; exit 5".into(),
    ];
    assert_eq!(fx.runtime.exec("c-tty", cmd, io).await.unwrap(), 5);
    let text = out.text();
    assert!(text.contains("30 100"), "{text:?}");
    assert!(text.contains("/dev/pts/"), "{text:?}");

    // Input typed at the terminal reaches the process.
    let out = SharedBuf::default();
    let io = skiff_cri::ExecIo {
        stdin: Some(Box::new(&b"typed\n"[..])),
        stdout: Some(Box::new(out.clone())),
        stderr: None,
        resize: None,
        tty: true,
    };
    let cmd = vec!["sh".into(), "-c".into(), "read line; echo got-$line".into()];
    assert_eq!(fx.runtime.exec("c-tty", cmd, io).await.unwrap(), 0);
    assert!(out.text().contains("got-typed"), "{:?}", out.text());

    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    fx.assert_clean();
}

#[tokio::test]
async fn security_settings_are_enforced() {
    let Some(fx) = Fixture::new("security_settings_are_enforced") else {
        return;
    };
    let sb = fx.sandbox("sec").await;
    let script = "id -u; id -g; touch /rootfs-write 2>/dev/null && echo rootfs-writable || echo rootfs-ro; \
                  grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; grep Seccomp: /proc/self/status; \
                  echo firmware-$(ls /sys/firmware | wc -l); grep CapBnd /proc/self/status; \
                  unshare -n true 2>/dev/null && echo unshare-allowed || echo unshare-denied";
    let mut cfg = fx.container(&sb, "c-sec", script);
    cfg.security = skiff_cri::Security {
        user: Some((1000, 1001, vec![])),
        read_only_rootfs: true,
        no_new_privileges: true,
        seccomp_default: true,
        cap_drop: vec!["ALL".into()],
        cap_add: vec!["NET_BIND_SERVICE".into()],
        ..Default::default()
    };
    cfg.resources.pids_limit = Some(64);
    cfg.resources.cpu_shares = Some(256);
    fx.run(cfg).await;
    let state = fx.wait_exit("c-sec", Duration::from_secs(10)).await;
    assert!(matches!(state, ContainerState::Exited { .. }), "{state:?}");
    let log = fx.log("c-sec");
    let lines: Vec<&str> = log
        .lines()
        .filter_map(|l| l.splitn(4, ' ').nth(3))
        .collect();
    assert_eq!(lines.first(), Some(&"1000"), "{log}");
    assert_eq!(lines.get(1), Some(&"1001"), "{log}");
    assert!(lines.contains(&"rootfs-ro"), "{log}");
    // Only CAP_NET_BIND_SERVICE (bit 10) is left; as upstream (no ambient capabilities), a
    // non-root process does not have it effective.
    assert!(lines.contains(&"CapBnd:\t0000000000000400"), "{log}");
    assert!(lines.contains(&"CapEff:\t0000000000000000"), "{log}");
    assert!(lines.contains(&"NoNewPrivs:\t1"), "{log}");
    assert!(lines.contains(&"Seccomp:\t2"), "{log}");
    // Masked: an empty read-only tmpfs hides /sys/firmware.
    assert!(lines.contains(&"firmware-0"), "{log}");
    assert!(lines.contains(&"unshare-denied"), "{log}");
    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    fx.assert_clean();
}

#[tokio::test]
async fn host_network_pods_use_the_host_namespace() {
    let Some(fx) = Fixture::new("host_network_pods_use_the_host_namespace") else {
        return;
    };
    let cfg = skiff_cri::SandboxConfig {
        host_network: true,
        ..fx.sandbox_config("hostnet")
    };
    let sb = fx.runtime.run_sandbox(cfg).await.unwrap();
    assert_eq!(sb.netns, None);
    fx.run(fx.container(&sb, "c-hostnet", "readlink /proc/self/ns/net"))
        .await;
    fx.wait_exit("c-hostnet", Duration::from_secs(10)).await;
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let log = fx.log("c-hostnet");
    assert!(
        log.contains(&format!(" stdout F {}\n", host_net.display())),
        "{log}"
    );
    fx.runtime.remove_sandbox(&sb.id).await.unwrap();
    fx.assert_clean();
}

/// An AsyncWrite collecting bytes, readable after the exec ends.
#[derive(Clone, Default)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
    }
}

impl tokio::io::AsyncWrite for SharedBuf {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
