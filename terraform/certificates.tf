# The deployment's wildcard certificate (docs/deployment.md, "TLS certificates").
#
# One certificate for *.<workshop_domain> (plus *.<slot>.<workshop_domain> per certificate
# slot), issued by ACME DNS-01 through the workshop zone and renewed 30 days before expiry by
# the `certificates` function, which Cloud Scheduler runs daily. Instead of one certificate per
# host: Let's Encrypt issues at most 50 per registered domain per week.
#
#   certificates  reads and adds versions of the certificate and ACME account secrets (the
#                 only writer of either); edits records in the workshop zone (the DNS-01 TXT
#                 records; Cloud DNS IAM has no per-record-type grant). No Firestore, no
#                 Pub/Sub, no Compute.
#   hosts         reads the certificate secret, to hand it to verified host VMs
#                 (POST /api/hosts/credentials). Hosts themselves get nothing: no secret, no
#                 DNS, no ACME account.
#   scheduler     may invoke the certificates function.
#
# Without a workshop domain (trial mode) the function deploys but does nothing, and hosts get
# per-host certificates for their <ip>.sslip.io names.

resource "google_service_account" "certificates" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-certs"
  display_name = "ClaraTeach certificates function (deployment TLS certificate)"

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "tls_certificate" {
  project   = var.project
  secret_id = "${var.name_prefix}-tls-certificate"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "acme_account" {
  project   = var.project
  secret_id = "${var.name_prefix}-acme-account"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

locals {
  certificate_secrets = {
    tls_certificate = google_secret_manager_secret.tls_certificate.secret_id
    acme_account    = google_secret_manager_secret.acme_account.secret_id
  }
}

# Read the current value (is a renewal due? the account key) ...
resource "google_secret_manager_secret_iam_member" "certificates_reads" {
  for_each = local.certificate_secrets

  project   = var.project
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.certificates.email}"
}

# ... and add a new version (a renewed certificate; the account key on the first run).
resource "google_secret_manager_secret_iam_member" "certificates_adds_versions" {
  for_each = local.certificate_secrets

  project   = var.project
  secret_id = each.value
  role      = "roles/secretmanager.secretVersionAdder"
  member    = "serviceAccount:${google_service_account.certificates.email}"
}

resource "google_secret_manager_secret_iam_member" "hosts_read_certificate" {
  project   = var.project
  secret_id = google_secret_manager_secret.tls_certificate.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.hosts.email}"
}

# The DNS-01 TXT records (_acme-challenge.<name>) in the workshop zone only.
resource "google_dns_managed_zone_iam_member" "certificates_edits_challenge_records" {
  count = length(compact([var.dns_managed_zone]))

  project      = var.project
  managed_zone = var.dns_managed_zone
  role         = google_project_iam_custom_role.dns_record_editor[0].id
  member       = "serviceAccount:${google_service_account.certificates.email}"
}

resource "google_cloud_run_service_iam_member" "scheduler_invokes_certificates" {
  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.fn["certificates"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

# Daily: a renewal is due 30 days before expiry, so a failing run (rate limit, DNS) has about
# 30 retries before the certificate would expire.
resource "google_cloud_scheduler_job" "certificates" {
  project          = var.project
  region           = var.region
  name             = "${var.name_prefix}-certificates"
  description      = "Renews the deployment's wildcard certificate when it is due."
  schedule         = "17 3 * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "600s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn["certificates"].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.fn["certificates"].service_config[0].uri
    }
  }

  depends_on = [google_project_service.apis]
}
