# A dedicated VPC for host VMs, so the default network's permissive rules (SSH, RDP,
# internal any-any) never apply to them. The only ingress: TCP 443 (Caddy, the agent's TLS
# endpoint) and TCP 80 (ACME HTTP-01 challenges and the redirect to HTTPS).

resource "google_compute_network" "hosts" {
  project                 = var.project
  name                    = "${var.name_prefix}-hosts"
  auto_create_subnetworks = false

  depends_on = [google_project_service.apis]
}

resource "google_compute_subnetwork" "hosts" {
  project                  = var.project
  name                     = "${var.name_prefix}-hosts"
  region                   = var.region
  network                  = google_compute_network.hosts.id
  ip_cidr_range            = var.hosts_subnet_cidr
  private_ip_google_access = true
}

resource "google_compute_firewall" "hosts_ingress" {
  project       = var.project
  name          = "${var.name_prefix}-hosts-https"
  network       = google_compute_network.hosts.name
  direction     = "INGRESS"
  priority      = 1000
  source_ranges = ["0.0.0.0/0"]
  target_tags   = [var.host_network_tag]

  allow {
    protocol = "tcp"
    ports    = ["443", "80"]
  }
}

# The provisioner attaches hosts to this subnet (with an ephemeral external IP) and no other.
resource "google_compute_subnetwork_iam_member" "provisioner_uses_hosts_subnet" {
  project    = var.project
  region     = var.region
  subnetwork = google_compute_subnetwork.hosts.name
  role       = "roles/compute.networkUser"
  member     = "serviceAccount:${google_service_account.provisioner.email}"
}
