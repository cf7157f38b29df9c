//! The pod's status as the agent reports it (phase, conditions, containerStatuses, IPs),
//! written through the pods/status subresource only when it changed.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, HostIP, Pod,
    PodCondition, PodIP, PodStatus,
};
use kube::api::{Patch, PatchParams};
use kube::Api;

use crate::slot::Slot;
use crate::worker::{NodeVerdict, PodWorker, State};

fn container_status(s: &Slot, image: &str) -> ContainerStatus {
    let state = if let Some(t) = &s.terminated {
        if let Some((reason, message)) = &s.waiting {
            // Waiting to restart: the ended instance is lastState.
            Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.clone()),
                    message: Some(message.clone()).filter(|m| !m.is_empty()),
                }),
                ..Default::default()
            })
        } else {
            Some(ContainerState {
                terminated: Some(t.clone()),
                ..Default::default()
            })
        }
    } else if let Some(since) = s.running_since.filter(|_| s.id.is_some()) {
        Some(ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(crate::time::from_system(since)),
            }),
            ..Default::default()
        })
    } else {
        let (reason, message) = s
            .waiting
            .clone()
            .unwrap_or_else(|| ("ContainerCreating".into(), String::new()));
        Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason),
                message: Some(message).filter(|m| !m.is_empty()),
            }),
            ..Default::default()
        })
    };
    // While back-off waits, the ended instance shows as lastState (its restart is pending).
    let last = if s.terminated.is_some() && s.waiting.is_some() {
        s.terminated.clone()
    } else {
        s.last_terminated.clone()
    };
    ContainerStatus {
        name: s.name.clone(),
        image: image.to_string(),
        image_id: s.image_id.clone(),
        container_id: s.id.as_ref().map(|id| format!("skiff://{id}")),
        ready: s.ready(),
        started: Some(s.started()),
        restart_count: s.restart_count + i32::from(s.terminated.is_some() && s.waiting.is_some()),
        state,
        last_state: last
            .map(|t| ContainerState {
                terminated: Some(t),
                ..Default::default()
            })
            .or(Some(ContainerState::default())),
        ..Default::default()
    }
}

impl PodWorker {
    /// The phase upstream would report for the current state.
    pub(crate) fn phase(&self) -> &'static str {
        if self.evicted.is_some() {
            return "Failed";
        }
        let apps: Vec<&Slot> = self.slots.iter().filter(|s| !s.init).collect();
        match self.state {
            State::Setup | State::Init(_) => {
                let init_failed = self.slots.iter().any(|s| {
                    s.init && s.done && s.terminated.as_ref().is_some_and(|t| t.exit_code != 0)
                });
                if init_failed {
                    "Failed"
                } else {
                    "Pending"
                }
            }
            State::Finished => {
                let init_failed = self.slots.iter().any(|s| {
                    s.init && s.done && s.terminated.as_ref().is_some_and(|t| t.exit_code != 0)
                });
                let all_ok = apps
                    .iter()
                    .all(|s| s.terminated.as_ref().is_some_and(|t| t.exit_code == 0));
                if init_failed || !all_ok {
                    "Failed"
                } else {
                    "Succeeded"
                }
            }
            _ => {
                if apps
                    .iter()
                    .any(|s| s.running() || s.restart_count > 0 || s.terminated.is_some())
                {
                    "Running"
                } else {
                    "Pending"
                }
            }
        }
    }

    fn condition(&mut self, type_: &str, ok: bool, reason: Option<&str>) -> PodCondition {
        let status = if ok { "True" } else { "False" }.to_string();
        let entry = self
            .condition_times
            .entry(type_.to_string())
            .or_insert_with(|| (status.clone(), crate::time::now()));
        if entry.0 != status {
            *entry = (status.clone(), crate::time::now());
        }
        PodCondition {
            type_: type_.to_string(),
            status,
            last_transition_time: Some(entry.1.clone()),
            reason: if ok { None } else { reason.map(str::to_string) },
            ..Default::default()
        }
    }

    /// The status the agent reports now.
    pub(crate) fn build_status(&mut self) -> PodStatus {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let image_of = |name: &str| -> String {
            spec.init_containers
                .iter()
                .flatten()
                .chain(spec.containers.iter())
                .find(|c| c.name == name)
                .and_then(|c| c.image.clone())
                .unwrap_or_default()
        };
        let init_statuses: Vec<ContainerStatus> = self
            .slots
            .iter()
            .filter(|s| s.init)
            .map(|s| container_status(s, &image_of(&s.name)))
            .collect();
        let statuses: Vec<ContainerStatus> = self
            .slots
            .iter()
            .filter(|s| !s.init)
            .map(|s| container_status(s, &image_of(&s.name)))
            .collect();
        let initialized = self
            .slots
            .iter()
            .filter(|s| s.init)
            .all(|s| s.done && s.terminated.as_ref().is_some_and(|t| t.exit_code == 0));
        let finished = matches!(self.state, State::Finished);
        let all_ready = !finished && self.slots.iter().filter(|s| !s.init).all(|s| s.ready());
        let phase = self.phase();
        let not_ready_reason = if finished {
            "PodCompleted"
        } else {
            "ContainersNotReady"
        };
        let mut conditions = vec![
            self.condition("PodReadyToStartContainers", self.sandbox.is_some(), None),
            self.condition(
                "Initialized",
                initialized,
                Some(if finished {
                    "PodCompleted"
                } else {
                    "ContainersNotInitialized"
                }),
            ),
            self.condition("Ready", all_ready, Some(not_ready_reason)),
            self.condition("ContainersReady", all_ready, Some(not_ready_reason)),
            self.condition("PodScheduled", true, None),
        ];
        if let Some(NodeVerdict::Evicted(message)) = self.evicted.clone() {
            let mut disruption = self.condition("DisruptionTarget", true, None);
            disruption.reason = Some("TerminationByKubelet".into());
            disruption.message = Some(message);
            conditions.push(disruption);
        }
        let host_ip = self.ctx.cfg.internal_ip.clone();
        PodStatus {
            phase: Some(phase.to_string()),
            conditions: Some(conditions),
            host_ip: Some(host_ip.clone()),
            host_ips: Some(vec![HostIP { ip: host_ip }]),
            pod_ip: Some(self.pod_ip.clone()).filter(|ip| !ip.is_empty()),
            pod_ips: Some(vec![PodIP {
                ip: self.pod_ip.clone(),
            }])
            .filter(|_| !self.pod_ip.is_empty()),
            start_time: Some(self.start_time.clone()),
            qos_class: Some(crate::resources::qos_class(&self.pod).as_str().to_string()),
            init_container_statuses: Some(init_statuses).filter(|v| !v.is_empty()),
            container_statuses: Some(statuses),
            reason: self.evicted.as_ref().map(|_| "Evicted".to_string()),
            message: self.evicted.as_ref().map(|v| match v {
                NodeVerdict::Evicted(m) => m.clone(),
                NodeVerdict::Rejected(m) => format!("Pod was rejected: {m}"),
            }),
            ..Default::default()
        }
    }

    /// Forget the last status written when the API copy's conditions disagree with it:
    /// someone else (the node lifecycle controller marking a lost node's pods not ready)
    /// changed them, and, as the kubelet does, the agent puts its own view back.
    pub(crate) fn notice_foreign_conditions(&mut self) {
        let Some(last) = &self.last_status else {
            return;
        };
        let rv = self.pod.metadata.resource_version.as_deref();
        if rv.and_then(|v| v.parse::<u64>().ok()).unwrap_or(u64::MAX) <= self.last_status_rv {
            return;
        }
        let ours = |type_: &str| {
            last.get("conditions")
                .and_then(|c| c.as_array())
                .into_iter()
                .flatten()
                .find(|c| c.get("type").and_then(|t| t.as_str()) == Some(type_))
                .and_then(|c| c.get("status").and_then(|s| s.as_str()))
                .map(str::to_string)
        };
        let drifted = self
            .pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| matches!(ours(&c.type_), Some(s) if s != c.status));
        if drifted {
            self.last_status = None;
        }
    }

    /// Write the status if it differs from the last one written (merge patch on
    /// pods/status: no resourceVersion, so no conflicts to retry).
    pub(crate) async fn write_status(&mut self) {
        let status = self.build_status();
        let Ok(value) = serde_json::to_value(&status) else {
            return;
        };
        if self.last_status.as_ref() == Some(&value) {
            return;
        }
        let api: Api<Pod> = Api::namespaced(
            self.ctx.client.clone(),
            self.pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        let patch = serde_json::json!({"status": value});
        match api
            .patch_status(
                self.pod.metadata.name.as_deref().unwrap_or_default(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(p) => {
                self.last_status = Some(value);
                self.last_status_rv = p
                    .metadata
                    .resource_version
                    .as_deref()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                // Keep our copy fresh but never lose a deletionTimestamp seen earlier.
                if p.metadata.uid.as_deref() == Some(self.uid.as_str())
                    && self.pod.metadata.deletion_timestamp.is_none()
                {
                    self.pod.metadata.deletion_timestamp = p.metadata.deletion_timestamp.clone();
                }
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                tracing::warn!(pod = %self.key(), error = %e, "status write failed; will retry")
            }
        }
    }
}
