//! The packaging: the Dockerfile, the systemd unit, the Kubernetes manifests and the Helm
//! chart, checked as far as this machine can without Docker, a cluster or Helm. Their
//! commands and probes are run against the real binary; the YAML is parsed strictly; outside
//! validators (hadolint, systemd-analyze, kubernetes-validate) run when installed and are
//! skipped with a message otherwise.

mod support;

mod docker;
mod docs;
mod helm;
mod kubernetes;
mod systemd;
