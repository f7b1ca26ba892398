# Cloud Functions (2nd gen), all built from one source archive (`nox -s package`).
#
# URLs: every function serves its routes under /api on its own URL (functions/entrypoints.py
# says which), and `api` (api_layout = single_url) serves every route. Instructors (CLI) use the
# instructor functions' URLs (output api_urls); learners' browsers use the public
# `join_workshop` URL (the web client's config.json apiBaseUrl); hosts fetch token keys from
# the public `jwks` URL, and their workshop's API key and report their events at `hosts`
# (POST /api/hosts/credentials and /api/hosts/events, authenticated by the VM's instance
# identity token; CLARATEACH_HOST_CREDENTIALS_URL is that token's audience).

resource "google_storage_bucket" "functions_source" {
  project                     = var.project
  name                        = "${var.project}-${var.name_prefix}-functions-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # No lifecycle rule: the only object is the archive Terraform manages (a new archive has a
  # new name and Terraform deletes the old one), and an age rule would delete the live one,
  # which Cloud Functions needs for every rebuild.

  depends_on = [google_project_service.apis]
}

# The object name carries the archive's hash, so a new archive forces a new build.
resource "google_storage_bucket_object" "functions_source" {
  bucket = google_storage_bucket.functions_source.name
  name   = "functions-source-${filesha256(local.functions_source_zip)}.zip"
  source = local.functions_source_zip
}

resource "google_artifact_registry_repository" "function_builds" {
  project       = var.project
  location      = var.region
  repository_id = "${var.name_prefix}-functions"
  format        = "DOCKER"
  description   = "Build output of the ClaraTeach functions."

  depends_on = [google_project_service.apis]
}

locals {
  # Every name here is a field of shared.settings.Settings (tests/deploy enforce it).
  function_env = {
    CLARATEACH_MODE                  = "gcp"
    CLARATEACH_GCP_PROJECT           = var.project
    CLARATEACH_FIRESTORE_DATABASE    = google_firestore_database.main.name
    CLARATEACH_EVENTS_TOPIC          = google_pubsub_topic.workshop_events.name
    CLARATEACH_CONTENT_BUCKET        = google_storage_bucket.content.name
    CLARATEACH_API_URL               = local.function_urls["jwks"]
    CLARATEACH_HOST_CREDENTIALS_URL  = local.function_urls["hosts"]
    CLARATEACH_JWT_ISSUER            = var.jwt_issuer
    CLARATEACH_JWT_KEY_SECRET        = google_secret_manager_secret.jwt_signing_key.secret_id
    CLARATEACH_INSTRUCTOR_AUDIENCE   = var.instructor_token_audience
    CLARATEACH_WEB_CLIENT_ID         = var.instructor_web_client_id
    CLARATEACH_INSTRUCTORS           = join(",", local.instructor_allowlist)
    CLARATEACH_ADMINS                = join(",", local.admin_emails)
    CLARATEACH_ALLOWED_ORIGINS       = join(",", local.allowed_origins)
    CLARATEACH_MAX_SEATS             = tostring(var.max_seats)
    CLARATEACH_EVENT_MAX_AGE         = tostring(var.event_max_age_seconds)
    CLARATEACH_PROVISIONING_DEADLINE = tostring(var.provisioning_deadline_seconds)
    CLARATEACH_MAX_WORKSHOP_USD      = tostring(var.max_workshop_usd)
    CLARATEACH_RETENTION_DAYS        = tostring(var.retention_days)
    CLARATEACH_GCE_ZONE              = var.zone
    CLARATEACH_GCE_MACHINE_TYPE      = var.machine_type
    CLARATEACH_GCE_IMAGE             = local.host_image
    CLARATEACH_GCE_DISK_GB           = tostring(var.host_disk_gb)
    CLARATEACH_GCE_NETWORK           = google_compute_network.hosts.id
    CLARATEACH_GCE_SUBNETWORK        = google_compute_subnetwork.hosts.id
    CLARATEACH_GCE_TAGS              = var.host_network_tag
    CLARATEACH_GCE_SPOT              = tostring(var.spot)
    CLARATEACH_HOST_SERVICE_ACCOUNT  = google_service_account.host.email
    CLARATEACH_WORKSHOP_DOMAIN       = var.workshop_domain
    CLARATEACH_DNS_ZONE              = var.dns_managed_zone
    CLARATEACH_SEAT_IMAGE            = local.seat_image
    CLARATEACH_CERTIFICATE_SECRET    = google_secret_manager_secret.tls_certificate.secret_id
    CLARATEACH_ACME_ACCOUNT_SECRET   = google_secret_manager_secret.acme_account.secret_id
    CLARATEACH_ACME_DIRECTORY_URL    = var.acme_directory_url
    CLARATEACH_ACME_EMAIL            = var.acme_email
    CLARATEACH_CERTIFICATE_SLOTS     = tostring(var.certificate_slots)
  }

  service_accounts = {
    api             = google_service_account.api.email
    create_workshop = google_service_account.create_workshop.email
    start_workshop  = google_service_account.start_workshop.email
    stop_workshop   = google_service_account.stop_workshop.email
    workshops       = google_service_account.workshops.email
    control         = google_service_account.control.email
    join_workshop   = google_service_account.join_workshop.email
    hosts           = google_service_account.hosts.email
    jwks            = google_service_account.jwks.email
    health          = google_service_account.health.email
    provisioner     = google_service_account.provisioner.email
    certificates    = google_service_account.certificates.email
  }
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions

  project     = var.project
  location    = var.region
  name        = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  description = "ClaraTeach ${each.key} (entry point functions.main.${each.value.entry_point})."

  build_config {
    runtime           = var.functions_runtime
    entry_point       = each.value.entry_point
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.function_builds.id

    source {
      storage_source {
        bucket = google_storage_bucket.functions_source.name
        object = google_storage_bucket_object.functions_source.name
      }
    }
  }

  service_config {
    service_account_email            = local.service_accounts[each.value.runs_as]
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout
    min_instance_count               = lookup(local.min_instances, each.key, 0)
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    environment_variables            = local.function_env
  }

  lifecycle {
    # Host names need both: the domain in the agents' URLs and the zone the provisioner writes
    # their A records to. Neither is trial mode (https://<ip>.sslip.io endpoints).
    precondition {
      condition     = contains([0, 2], length(compact([var.workshop_domain, var.dns_managed_zone])))
      error_message = "Set workshop_domain and dns_managed_zone together (or neither, for trial mode)."
    }
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build_writes_logs,
    google_artifact_registry_repository_iam_member.build_pushes_function_images,
    google_storage_bucket_iam_member.build_reads_source,
  ]
}

# Anyone may call join_workshop, hosts, jwks and health; nothing else is public.
resource "google_cloud_run_service_iam_member" "public" {
  for_each = toset(local.public_functions)

  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# The instructor functions: only the instructor and admin principals (Cloud Run checks their
# Google ID token before the code runs; the code checks it again and uses the email).
resource "google_cloud_run_service_iam_member" "instructors" {
  for_each = {
    for pair in setproduct(local.instructor_functions, local.instructor_invokers) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], member = pair[1] }
  }

  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

# The browser cockpit (only with instructor_web_client_id): a browser's CORS preflight never
# carries a token, and Cloud Run IAM refuses every request without one, so with IAM alone no
# page could call the instructor functions. Google's pattern for end users signing in with
# Google is a public service that verifies the ID token in code
# (https://cloud.google.com/run/docs/authenticating/end-users); the app already verifies
# every instructor request fully (signature, issuer, expiry, audience, email_verified,
# allowlist: shared/auth/instructor.py), whatever the Cloud Run layer let through.
resource "google_cloud_run_service_iam_member" "cockpit_browsers" {
  # None without a web client ID ("" -> no functions), else every instructor function.
  for_each = toset(lookup({ "" = [] }, var.instructor_web_client_id, local.instructor_functions))

  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
