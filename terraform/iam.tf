# Service accounts and every IAM grant, each as narrow as the API allows.
#
# One account per API function, each with only what its operations need (functions/
# entrypoints.py says which operations each serves). Firestore IAM has no per-collection
# grant: roles/datastore.user (read/write) and roles/datastore.viewer (read only) are granted
# on the project, so "cannot write state" is the viewer role, not a narrower resource.
#
#   create_workshop  Firestore read/write; create a workshop-* secret and add its version
#                    (delete it if the workshop was never stored). Cannot read it.
#   start_workshop,  Firestore read/write; publish to the events topic. No Secret Manager,
#   stop_workshop    no Compute (the provisioner creates and deletes VMs and the secret).
#   workshops        Firestore read only (list, get, seats, usage, the OpenAPI document).
#   control          Firestore read/write; the JWT signing key (shadow and host control
#                    tokens). Never publishes, never touches workshop secrets.
#   join_workshop    Firestore read/write (claims seats); the JWT signing key. Never publishes.
#   hosts            Firestore read only; read workshop-* secrets (each host VM gets its own
#                    workshop's key, for its identity token); publish the events a VM reports
#                    about itself. Kept apart from join_workshop so the public join rush runs
#                    without those rights.
#   jwks             The JWT signing key (publishes its public half). Nothing else.
#   health           Nothing.
#   api              api_layout = single_url only: the union of the instructor functions' rights
#                    (it serves every route; hosts still use the hosts function).
#   provisioner  provisioner, reconciler: Firestore, publish, create/delete ct-* VMs in one zone,
#                act as the host SA (that SA only), delete workshop-* secrets (never read them,
#                never change their IAM policy), DNS records in one managed zone.
#   host         VMs: pull seat images, nothing else. No Pub/Sub and no Secret Manager access
#                at all: each VM reports its events (POST /api/hosts/events) and gets its own
#                workshop's key (POST /api/hosts/credentials) from the join function by
#                presenting its instance identity token, which names the VM; the function
#                checks it and publishes for the host. A shared account proves nothing.
#   scheduler    may invoke the reconciler and the certificates function, nothing else.
#   certificates the deployment TLS certificate (terraform/certificates.tf).
#   pubsub-push  may invoke the provisioner, nothing else.
#   build        Cloud Build for function deploys: logs, one Artifact Registry repository, the
#                source bucket.

# Account ids are at most 30 characters: "<name_prefix>-fn-<short>".
resource "google_service_account" "api" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-api"
  display_name = "ClaraTeach api function (all-in-one, single_url)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "create_workshop" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-create"
  display_name = "ClaraTeach create_workshop function"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "start_workshop" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-start"
  display_name = "ClaraTeach start_workshop function"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "stop_workshop" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-stop"
  display_name = "ClaraTeach stop_workshop function"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "workshops" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-read"
  display_name = "ClaraTeach workshops function (read only)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "control" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-control"
  display_name = "ClaraTeach control function (instructor actions)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "join_workshop" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-join"
  display_name = "ClaraTeach join_workshop function"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "hosts" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-hosts"
  display_name = "ClaraTeach hosts function (host credentials and events)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "jwks" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-jwks"
  display_name = "ClaraTeach jwks function"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "health" {
  project      = var.project
  account_id   = "${var.name_prefix}-fn-health"
  display_name = "ClaraTeach health function (no rights)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "provisioner" {
  project      = var.project
  account_id   = "${var.name_prefix}-provisioner"
  display_name = "ClaraTeach provisioner and reconciler"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "host" {
  project      = var.project
  account_id   = "${var.name_prefix}-host"
  display_name = "ClaraTeach host VMs (workspace agents)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "scheduler" {
  project      = var.project
  account_id   = "${var.name_prefix}-scheduler"
  display_name = "ClaraTeach Cloud Scheduler (invokes the reconciler and certificates)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "pubsub_push" {
  project      = var.project
  account_id   = "${var.name_prefix}-pubsub-push"
  display_name = "ClaraTeach Pub/Sub push (invokes the provisioner)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "build" {
  project      = var.project
  account_id   = "${var.name_prefix}-build"
  display_name = "ClaraTeach function builds"

  depends_on = [google_project_service.apis]
}

# ---- Firestore: project-level roles only (no per-collection IAM) ---------------------------

resource "google_project_iam_member" "firestore_users" {
  for_each = {
    api             = google_service_account.api.email
    create_workshop = google_service_account.create_workshop.email
    start_workshop  = google_service_account.start_workshop.email
    stop_workshop   = google_service_account.stop_workshop.email
    control         = google_service_account.control.email
    join_workshop   = google_service_account.join_workshop.email
    provisioner     = google_service_account.provisioner.email
  }

  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${each.value}"
}

# Read only: the workshops function (it cannot write state) and hosts (it only reads the
# workshop a VM belongs to).
resource "google_project_iam_member" "firestore_viewers" {
  for_each = {
    workshops = google_service_account.workshops.email
    hosts     = google_service_account.hosts.email
  }

  project = var.project
  role    = "roles/datastore.viewer"
  member  = "serviceAccount:${each.value}"
}

# ---- Events topic: publish only, granted on the topic --------------------------------------
# Only the platform publishes. Hosts never do: their shared service account would let any host
# speak for every other host of every workshop (docs/events.md, "Who may speak").

resource "google_pubsub_topic_iam_member" "event_publishers" {
  for_each = {
    api            = google_service_account.api.email
    start_workshop = google_service_account.start_workshop.email
    stop_workshop  = google_service_account.stop_workshop.email
    hosts          = google_service_account.hosts.email
    provisioner    = google_service_account.provisioner.email
  }

  project = var.project
  topic   = google_pubsub_topic.workshop_events.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${each.value}"
}

# ---- Workshop secrets ----------------------------------------------------------------------
# Creating a secret is checked on the project, everything else on the secret itself, so the
# condition admits the project (for create only: the role has no other project-level
# permission) and secrets whose name starts with workshop-.

resource "google_project_iam_custom_role" "workshop_secret_writer" {
  project     = var.project
  role_id     = "${replace(var.name_prefix, "-", "_")}_workshopSecretWriter"
  title       = "ClaraTeach workshop secret writer"
  description = "Create workshop API-key secrets, add versions, delete one whose workshop was never stored. Cannot read them."
  permissions = [
    "secretmanager.secrets.create",
    "secretmanager.secrets.delete",
    "secretmanager.secrets.get",
    "secretmanager.versions.add",
  ]

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "write_workshop_secrets" {
  for_each = {
    api             = google_service_account.api.email
    create_workshop = google_service_account.create_workshop.email
  }

  project = var.project
  role    = google_project_iam_custom_role.workshop_secret_writer.id
  member  = "serviceAccount:${each.value}"

  condition {
    title       = "workshop secrets only"
    description = "The project (secret creation) or secrets named workshop-*."
    expression  = "resource.type == \"cloudresourcemanager.googleapis.com/Project\" || resource.name.startsWith(\"${local.workshop_secret_names}\")"
  }
}

# Reading a workshop key: only the hosts function, to answer POST /api/hosts/credentials for a host
# VM that proved with its instance identity token which workshop it serves. Secret versions
# (projects/N/secrets/workshop-x/versions/v) carry the secret's name as prefix.
resource "google_project_iam_custom_role" "workshop_secret_reader" {
  project     = var.project
  role_id     = "${replace(var.name_prefix, "-", "_")}_workshopSecretReader"
  title       = "ClaraTeach workshop secret reader"
  description = "Read workshop API-key secrets, to hand each host VM its own workshop's key."
  permissions = [
    "secretmanager.versions.access",
  ]

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "hosts_read_workshop_secrets" {
  project = var.project
  role    = google_project_iam_custom_role.workshop_secret_reader.id
  member  = "serviceAccount:${google_service_account.hosts.email}"

  condition {
    title       = "workshop secrets only"
    description = "Secrets named workshop-* and their versions; never the project."
    expression  = "resource.name.startsWith(\"${local.workshop_secret_names}\")"
  }
}

resource "google_project_iam_custom_role" "workshop_secret_janitor" {
  project     = var.project
  role_id     = "${replace(var.name_prefix, "-", "_")}_workshopSecretJanitor"
  title       = "ClaraTeach workshop secret janitor"
  description = "Delete a workshop's secret at stop. Cannot read it or change who can."
  permissions = [
    "secretmanager.secrets.delete",
    "secretmanager.secrets.get",
  ]

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "provisioner_manage_workshop_secrets" {
  project = var.project
  role    = google_project_iam_custom_role.workshop_secret_janitor.id
  member  = "serviceAccount:${google_service_account.provisioner.email}"

  condition {
    title       = "workshop secrets only"
    description = "Secrets named workshop-*."
    expression  = "resource.name.startsWith(\"${local.workshop_secret_names}\")"
  }
}

# ---- Host VMs: the provisioner's compute rights ---------------------------------------------
# Instead of roles/compute.instanceAdmin.v1 on the project: lifecycle permissions only on
# instances and boot disks named ct-* in the configured zone, plus the read-only bits needed
# to create them. The subnet is granted on the subnet (network.tf).

resource "google_project_iam_custom_role" "host_lifecycle" {
  project     = var.project
  role_id     = "${replace(var.name_prefix, "-", "_")}_hostLifecycle"
  title       = "ClaraTeach host lifecycle"
  description = "Create, label and delete workspace host VMs and their boot disks."
  # What instances.insert checks for our request body (a new boot disk, metadata, tags,
  # labels, a service account, Spot scheduling) and instances.delete for a VM whose boot disk
  # has autoDelete (the disk is deleted as the caller). The subnet (compute.subnetworks.use,
  # .useExternalIp) is granted on the subnet in network.tf; images in host_observer.
  permissions = [
    "compute.disks.create",
    "compute.disks.delete",
    "compute.instances.create",
    "compute.instances.delete",
    "compute.instances.get",
    "compute.instances.setLabels",
    "compute.instances.setMetadata",
    "compute.instances.setScheduling",
    "compute.instances.setServiceAccount",
    "compute.instances.setTags",
  ]

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "provisioner_host_lifecycle" {
  project = var.project
  role    = google_project_iam_custom_role.host_lifecycle.id
  member  = "serviceAccount:${google_service_account.provisioner.email}"

  condition {
    title       = "ClaraTeach hosts only"
    description = "Instances and disks named ct-* in the host zone."
    expression  = "resource.name.startsWith(\"projects/${var.project}/zones/${var.zone}/instances/${local.host_name_prefix}\") || resource.name.startsWith(\"projects/${var.project}/zones/${var.zone}/disks/${local.host_name_prefix}\")"
  }
}

resource "google_project_iam_custom_role" "host_observer" {
  project     = var.project
  role_id     = "${replace(var.name_prefix, "-", "_")}_hostObserver"
  title       = "ClaraTeach host observer"
  description = "List hosts, follow zone operations, boot from project images, read quotas."
  permissions = [
    "compute.images.get",
    "compute.images.getFromFamily",
    "compute.images.useReadOnly",
    "compute.instances.list",
    "compute.projects.get",
    "compute.regions.get",
    "compute.zoneOperations.get",
    "compute.zones.get",
  ]

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "provisioner_host_observer" {
  project = var.project
  role    = google_project_iam_custom_role.host_observer.id
  member  = "serviceAccount:${google_service_account.provisioner.email}"
}

# Act-as on the host service account only (needed to start a VM that runs as it).
resource "google_service_account_iam_member" "provisioner_acts_as_host" {
  service_account_id = google_service_account.host.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.provisioner.email}"
}

# ---- DNS: records in one managed zone, only when a domain is configured --------------------

resource "google_project_iam_custom_role" "dns_record_editor" {
  count = length(compact([var.dns_managed_zone]))

  project     = var.project
  role_id     = "${replace(var.name_prefix, "-", "_")}_dnsRecordEditor"
  title       = "ClaraTeach host DNS records"
  description = "Add and remove host A records and ACME DNS-01 TXT records in the workshop zone."
  permissions = [
    "dns.changes.create",
    "dns.changes.get",
    "dns.managedZones.get",
    "dns.resourceRecordSets.create",
    "dns.resourceRecordSets.delete",
    "dns.resourceRecordSets.get",
    "dns.resourceRecordSets.list",
    "dns.resourceRecordSets.update",
  ]

  depends_on = [google_project_service.apis]
}

resource "google_dns_managed_zone_iam_member" "provisioner_edits_host_records" {
  count = length(compact([var.dns_managed_zone]))

  project      = var.project
  managed_zone = var.dns_managed_zone
  role         = google_project_iam_custom_role.dns_record_editor[0].id
  member       = "serviceAccount:${google_service_account.provisioner.email}"
}

# ---- Invokers of the internal functions ----------------------------------------------------

resource "google_cloud_run_service_iam_member" "scheduler_invokes_reconciler" {
  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.fn["reconciler"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_run_service_iam_member" "pubsub_invokes_provisioner" {
  project  = var.project
  location = var.region
  service  = google_cloudfunctions2_function.fn["provisioner"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.pubsub_push.email}"
}

# Pub/Sub mints the push OIDC tokens; it needs token creation on the push SA only. The Pub/Sub
# service agent exists only once the Pub/Sub API is enabled.
resource "google_service_account_iam_member" "pubsub_mints_push_tokens" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  depends_on = [google_project_service.apis]
}

# ---- Function builds ----------------------------------------------------------------------

resource "google_project_iam_member" "build_writes_logs" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_artifact_registry_repository_iam_member" "build_pushes_function_images" {
  project    = var.project
  location   = google_artifact_registry_repository.function_builds.location
  repository = google_artifact_registry_repository.function_builds.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.functions_source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# Cloud Functions (2nd gen) copies the source into its own bucket
# gcf-v2-sources-<project number>-<region> and the build reads it (and its build cache) there:
# Google documents Storage Object Admin for a custom build account
# (https://cloud.google.com/functions/docs/securing/build-custom-sa). That bucket is created
# by the first deploy, so the grant is on the project, conditioned on those buckets only.
resource "google_project_iam_member" "build_uses_function_sources" {
  project = var.project
  role    = "roles/storage.objectAdmin"
  member  = "serviceAccount:${google_service_account.build.email}"

  condition {
    title       = "Cloud Functions source buckets only"
    description = "gcf-v2-sources-* and gcf-v2-uploads-* of this project and region."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${local.project_number}-${var.region}\") || resource.name.startsWith(\"projects/_/buckets/gcf-v2-uploads-${local.project_number}-${var.region}\")"
  }
}

# ---- Host logs: agent, seat and startup-script logs go to Cloud Logging ---------------------
# roles/logging.logWriter holds logging.logEntries.create only; it cannot be granted on a
# narrower resource than the project.
resource "google_project_iam_member" "host_writes_logs" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.host.email}"
}
