//! Starting one container instance: image pull (policy and back-off), configuration
//! (command, env, mounts, resources, security), create and start, with upstream's events.

use std::time::Duration;

use k8s_openapi::api::core::v1::Container;
use skiff_cri::{ContainerConfig, ImageInfo};
use tokio::time::Instant;

use crate::events::EventType;
use crate::probes::{ProbeState, ProbeVerdict};
use crate::worker::PodWorker;

/// imagePullPolicy with upstream's default (Always for `:latest` or untagged).
pub fn pull_policy(c: &Container) -> String {
    if let Some(p) = c.image_pull_policy.as_deref().filter(|p| !p.is_empty()) {
        return p.to_string();
    }
    let image = c.image.as_deref().unwrap_or_default();
    if image.contains('@') {
        return "IfNotPresent".into();
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) if tag != "latest" => "IfNotPresent".into(),
        _ => "Always".into(),
    }
}

impl PodWorker {
    fn container_spec(&self, idx: usize) -> Option<Container> {
        let spec = self.pod.spec.as_ref()?;
        let slot = &self.slots[idx];
        let list = if slot.init {
            spec.init_containers.as_ref()?
        } else {
            &spec.containers
        };
        list.iter().find(|c| c.name == slot.name).cloned()
    }

    /// Start the slot's next instance if its back-off allows.
    pub(crate) async fn maybe_start(&mut self, idx: usize) {
        let now = Instant::now();
        if self.slots[idx].next_start.is_some_and(|t| t > now) {
            return;
        }
        let Some(c) = self.container_spec(idx) else {
            return;
        };
        let Some(image) = self.ensure_image(idx, &c).await else {
            return;
        };
        self.start_instance(idx, &c, &image).await;
    }

    async fn ensure_image(&mut self, idx: usize, c: &Container) -> Option<ImageInfo> {
        let name = c.name.clone();
        let image = c.image.clone().unwrap_or_default();
        let policy = pull_policy(c);
        let now = Instant::now();
        if self.slots[idx].next_pull.is_some_and(|t| t > now) {
            let msg = format!("Back-off pulling image \"{image}\"");
            let detail = self.slots[idx].pull_error.clone().unwrap_or_default();
            self.slots[idx].waiting = Some(("ImagePullBackOff".into(), format!("{msg}: {detail}")));
            self.event(Some(&name), EventType::Normal, "BackOff", &msg)
                .await;
            return None;
        }
        let present = self.ctx.images.get(&image);
        match (policy.as_str(), present) {
            ("Never", None) => {
                let msg =
                    format!("Container image \"{image}\" is not present with pull policy of Never");
                self.slots[idx].waiting = Some(("ErrImageNeverPull".into(), msg.clone()));
                self.event(Some(&name), EventType::Warning, "ErrImageNeverPull", &msg)
                    .await;
                self.slots[idx].next_pull = Some(now + Duration::from_secs(10));
                return None;
            }
            ("Never", Some(info)) | ("IfNotPresent", Some(info)) => {
                let msg = format!("Container image \"{image}\" already present on machine");
                self.event(Some(&name), EventType::Normal, "Pulled", &msg)
                    .await;
                return Some(info);
            }
            _ => {}
        }
        self.event(
            Some(&name),
            EventType::Normal,
            "Pulling",
            &format!("Pulling image \"{image}\""),
        )
        .await;
        let secrets: Vec<String> = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.image_pull_secrets.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.name)
            .collect();
        let auth = crate::pull_auth::pull_auth(&image, &secrets, &self.refs);
        let began = Instant::now();
        match self.ctx.images.pull(&image, auth).await {
            Ok(info) => {
                let took = began.elapsed();
                let msg = format!(
                    "Successfully pulled image \"{image}\" in {:.3}s",
                    took.as_secs_f64()
                );
                self.event(Some(&name), EventType::Normal, "Pulled", &msg)
                    .await;
                let slot = &mut self.slots[idx];
                slot.pull_backoff.reset();
                slot.next_pull = None;
                slot.pull_error = None;
                Some(info)
            }
            Err(e) => {
                let msg = format!("Failed to pull image \"{image}\": {e}");
                let slot = &mut self.slots[idx];
                let delay = slot.pull_backoff.failure(Instant::now());
                slot.next_pull = Some(Instant::now() + delay);
                slot.pull_error = Some(e.to_string());
                slot.waiting = Some(("ErrImagePull".into(), msg.clone()));
                self.event(Some(&name), EventType::Warning, "Failed", &msg)
                    .await;
                self.event(
                    Some(&name),
                    EventType::Warning,
                    "Failed",
                    "Error: ErrImagePull",
                )
                .await;
                None
            }
        }
    }

    /// Build the runtime config of the slot's next instance.
    pub(crate) fn build_config(
        &self,
        idx: usize,
        c: &Container,
        image: &ImageInfo,
    ) -> Result<ContainerConfig, String> {
        let facts = self.facts();
        let env = crate::env::resolve_env(&self.pod, c, &image.config.env, &self.refs, &facts)
            .map_err(|e| e.to_string())?;
        let command = crate::command::resolve_command(
            c.command.as_deref().unwrap_or_default(),
            c.args.as_deref().unwrap_or_default(),
            &image.config,
            &env,
        );
        if command.is_empty() {
            return Err("no command specified".into());
        }
        let pod_sc = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.security_context.as_ref());
        let security = crate::security::container_security(pod_sc, c, &image.config.user)
            .map_err(|e| e.to_string())?;
        let resources = crate::resources::container_resources(c).map_err(|e| e.to_string())?;
        let mounts =
            crate::volumes::container_mounts(c, &self.volumes).map_err(|e| e.to_string())?;
        let layers = self.ctx.images.layers(image).map_err(|e| e.to_string())?;
        let slot = &self.slots[idx];
        let ns = self.pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = self.pod.metadata.name.as_deref().unwrap_or_default();
        let log_path = self
            .ctx
            .cfg
            .pod_log_dir(ns, name, &self.uid)
            .join(&c.name)
            .join(format!("{}.log", slot.restart_count));
        Ok(ContainerConfig {
            id: format!("{}_{}_{}", self.uid, c.name, slot.restart_count),
            sandbox_id: self
                .sandbox
                .as_ref()
                .map(|s| s.id.clone())
                .unwrap_or_default(),
            name: c.name.clone(),
            layers,
            command,
            env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
            working_dir: c
                .working_dir
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| image.config.working_dir.clone()),
            mounts,
            resources,
            cgroup_parent: crate::resources::qos_class(&self.pod).cgroup_parent(&self.uid),
            security,
            tty: c.tty == Some(true),
            stdin: c.stdin == Some(true),
            log_path,
        })
    }

    async fn start_instance(&mut self, idx: usize, c: &Container, image: &ImageInfo) {
        let name = c.name.clone();
        // A finished previous instance becomes lastState; its log stays for --previous.
        if let (Some(old), Some(term)) = (
            self.slots[idx].id.clone(),
            self.slots[idx].terminated.take(),
        ) {
            if let Err(e) = self.ctx.runtime.remove_container(&old).await {
                tracing::warn!(pod = %self.key(), error = %e, "remove old instance");
            }
            let slot = &mut self.slots[idx];
            slot.last_terminated = Some(term);
            slot.restart_count += 1;
            slot.id = None;
        }
        let cfg = match self.build_config(idx, c, image) {
            Ok(cfg) => cfg,
            Err(msg) => {
                self.slots[idx].waiting = Some(("CreateContainerConfigError".into(), msg.clone()));
                self.slots[idx].next_start = Some(Instant::now() + Duration::from_secs(10));
                self.event(
                    Some(&name),
                    EventType::Warning,
                    "Failed",
                    &format!("Error: {msg}"),
                )
                .await;
                return;
            }
        };
        if let Some(dir) = cfg.log_path.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                tracing::warn!(pod = %self.key(), error = %e, "log dir");
            }
        }
        let id = cfg.id.clone();
        // A leftover from a failed earlier attempt would make create fail.
        let _ = self.ctx.runtime.remove_container(&id).await;
        if let Err(e) = self.ctx.runtime.create_container(cfg).await {
            let msg = e.to_string();
            self.slots[idx].waiting = Some(("CreateContainerError".into(), msg.clone()));
            self.slots[idx].next_start = Some(Instant::now() + Duration::from_secs(10));
            self.event(
                Some(&name),
                EventType::Warning,
                "Failed",
                &format!("Error: {msg}"),
            )
            .await;
            return;
        }
        self.event(
            Some(&name),
            EventType::Normal,
            "Created",
            &format!("Created container: {name}"),
        )
        .await;
        if let Err(e) = self.ctx.runtime.start_container(&id).await {
            let msg = e.to_string();
            let _ = self.ctx.runtime.remove_container(&id).await;
            self.slots[idx].waiting = Some(("RunContainerError".into(), msg.clone()));
            self.slots[idx].next_start = Some(Instant::now() + Duration::from_secs(10));
            self.event(
                Some(&name),
                EventType::Warning,
                "Failed",
                &format!("Error: {msg}"),
            )
            .await;
            return;
        }
        self.event(
            Some(&name),
            EventType::Normal,
            "Started",
            &format!("Started container {name}"),
        )
        .await;
        // The instance counts as running only once its postStart hook succeeded.
        let hook = self.post_start(&id, c).await;
        let now = Instant::now();
        let slot = &mut self.slots[idx];
        if let Err(msg) = hook {
            // The hook's failure killed the instance: record it so the next poll sees the
            // exit and restartPolicy (with back-off) applies.
            slot.id = Some(id);
            slot.image_id = image.id.clone();
            slot.terminated = None;
            slot.running_since = Some(std::time::SystemTime::now());
            slot.next_start = None;
            self.poll_slot(idx).await;
            let slot = &mut self.slots[idx];
            if !slot.done && slot.waiting.is_none() {
                slot.waiting = Some(("PostStartHookError".into(), msg));
            }
            return;
        }
        slot.id = Some(id);
        slot.image_id = image.id.clone();
        slot.waiting = None;
        slot.terminated = None;
        slot.running_since = Some(std::time::SystemTime::now());
        slot.next_start = None;
        slot.startup = c
            .startup_probe
            .as_ref()
            .map(|p| ProbeState::new(p, now, false));
        slot.liveness = c
            .liveness_probe
            .as_ref()
            .map(|p| ProbeState::new(p, now, true));
        slot.readiness = c
            .readiness_probe
            .as_ref()
            .map(|p| ProbeState::new(p, now, false));
    }

    /// Evaluate the due probes of a running container.
    pub(crate) async fn run_probes(&mut self, idx: usize) {
        let Some(c) = self.container_spec(idx) else {
            return;
        };
        let Some(id) = self.slots[idx].id.clone() else {
            return;
        };
        let sandbox_id = self
            .sandbox
            .as_ref()
            .map(|s| s.id.clone())
            .unwrap_or_default();
        let pod_ip = if self.host_network() {
            "127.0.0.1".to_string()
        } else {
            self.pod_ip.clone()
        };
        let ports: Vec<(String, i32)> = c
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.name.clone().map(|n| (n, p.container_port)))
            .collect();
        let now = Instant::now();
        let name = c.name.clone();

        let run = ProbeRun {
            id: &id,
            name: &name,
            sandbox_id: &sandbox_id,
            pod_ip: &pod_ip,
            ports: &ports,
            now,
        };
        if let Some(p) = c.startup_probe.as_ref() {
            let passing = self.slots[idx].startup.as_ref().is_none_or(|s| s.passing);
            if !passing {
                if let Some(ProbeVerdict::Failed(_)) =
                    self.probe(idx, Probe::Startup, p, &run).await
                {
                    self.kill_for_probe(idx, &id, &name, "startup").await;
                }
                return;
            }
        }
        if let Some(p) = c.liveness_probe.as_ref() {
            if let Some(ProbeVerdict::Failed(_)) = self.probe(idx, Probe::Liveness, p, &run).await {
                self.kill_for_probe(idx, &id, &name, "liveness").await;
                return;
            }
        }
        if let Some(p) = c.readiness_probe.as_ref() {
            self.probe(idx, Probe::Readiness, p, &run).await;
        }
    }

    /// Run one probe if it is due: emit Unhealthy on failure and record the result in the
    /// container's slot. None when the probe was not due (or has no state).
    async fn probe(
        &mut self,
        idx: usize,
        which: Probe,
        p: &k8s_openapi::api::core::v1::Probe,
        run: &ProbeRun<'_>,
    ) -> Option<ProbeVerdict> {
        if !which.state(&mut self.slots[idx])?.due(run.now) {
            return None;
        }
        let target = crate::probes::ProbeTarget {
            runtime: &self.ctx.runtime,
            container_id: run.id,
            sandbox_id: run.sandbox_id,
            pod_ip: run.pod_ip,
            ports: run.ports,
        };
        let r = crate::probes::run_probe(p, &target).await;
        if let Err(msg) = &r {
            let text = format!("{} probe failed: {msg}", which.label());
            self.event(Some(run.name), EventType::Warning, "Unhealthy", &text)
                .await;
        }
        which
            .state(&mut self.slots[idx])
            .map(|s| s.record(p, run.now, r))
    }

    async fn kill_for_probe(&mut self, idx: usize, id: &str, name: &str, which: &str) {
        let msg = format!("Container {name} failed {which} probe, will be restarted");
        self.event(Some(name), EventType::Normal, "Killing", &msg)
            .await;
        let grace = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0) as u64;
        if let Err(e) = self
            .ctx
            .runtime
            .stop_container(id, Duration::from_secs(grace))
            .await
        {
            tracing::warn!(pod = %self.key(), error = %e, "stop after probe failure");
        }
        // The next poll sees the exit and applies restartPolicy.
        self.poll_slot(idx).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pull_policy_defaults() {
        for (image, policy, want) in [
            ("busybox", None, "Always"),
            ("busybox:latest", None, "Always"),
            ("busybox:1.36", None, "IfNotPresent"),
            ("reg:5000/app", None, "Always"),
            ("reg:5000/app:v1", None, "IfNotPresent"),
            ("app@sha256:abc", None, "IfNotPresent"),
            ("busybox", Some("Never"), "Never"),
        ] {
            let c: Container = serde_json::from_value(
                json!({"name": "c", "image": image, "imagePullPolicy": policy}),
            )
            .expect("c");
            assert_eq!(pull_policy(&c), want, "{image}");
        }
    }
}

/// Which of a container's probes.
#[derive(Clone, Copy)]
enum Probe {
    Startup,
    Liveness,
    Readiness,
}

impl Probe {
    /// Capitalised name, as upstream's Unhealthy events start.
    fn label(self) -> &'static str {
        match self {
            Probe::Startup => "Startup",
            Probe::Liveness => "Liveness",
            Probe::Readiness => "Readiness",
        }
    }

    /// The probe's state in a container slot.
    fn state(self, slot: &mut crate::slot::Slot) -> Option<&mut ProbeState> {
        match self {
            Probe::Startup => slot.startup.as_mut(),
            Probe::Liveness => slot.liveness.as_mut(),
            Probe::Readiness => slot.readiness.as_mut(),
        }
    }
}

/// What every probe of one container in one round shares.
struct ProbeRun<'a> {
    id: &'a str,
    name: &'a str,
    sandbox_id: &'a str,
    pod_ip: &'a str,
    ports: &'a [(String, i32)],
    now: Instant,
}
