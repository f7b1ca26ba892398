# Shared lookups, derived names and the project's APIs.

data "google_project" "this" {
  project_id = var.project
}

locals {
  project_number = data.google_project.this.number

  # Every entry point of functions/main.py and the service account it runs as (iam.tf: one
  # account per function). `concurrency` is requests per instance: more than 1 needs at least
  # 1 vCPU on 2nd gen; `join_workshop` serves the join rush (500 learners within a minute)
  # with 40 per instance, so 500 joins need about 13 instances instead of 500 cold starts.
  # `min_instances` is a variable for join_workshop only.
  function_specs = {
    api             = { entry_point = "api", runs_as = "api", memory = "512Mi", cpu = "0.333", concurrency = 1, timeout = 60, max_instances = 20 }
    create_workshop = { entry_point = "create_workshop", runs_as = "create_workshop", memory = "512Mi", cpu = "0.333", concurrency = 1, timeout = 60, max_instances = 10 }
    start_workshop  = { entry_point = "start_workshop", runs_as = "start_workshop", memory = "512Mi", cpu = "0.333", concurrency = 1, timeout = 60, max_instances = 10 }
    stop_workshop   = { entry_point = "stop_workshop", runs_as = "stop_workshop", memory = "512Mi", cpu = "0.333", concurrency = 1, timeout = 60, max_instances = 10 }
    workshops       = { entry_point = "workshops", runs_as = "workshops", memory = "512Mi", cpu = "0.333", concurrency = 1, timeout = 60, max_instances = 20 }
    control         = { entry_point = "control", runs_as = "control", memory = "512Mi", cpu = "0.333", concurrency = 1, timeout = 60, max_instances = 20 }
    join_workshop   = { entry_point = "join_workshop", runs_as = "join_workshop", memory = "1Gi", cpu = "1", concurrency = 40, timeout = 30, max_instances = 100 }
    hosts           = { entry_point = "hosts", runs_as = "hosts", memory = "512Mi", cpu = "0.333", concurrency = 1, timeout = 30, max_instances = 20 }
    jwks            = { entry_point = "jwks", runs_as = "jwks", memory = "256Mi", cpu = "0.167", concurrency = 1, timeout = 30, max_instances = 20 }
    health          = { entry_point = "health", runs_as = "health", memory = "256Mi", cpu = "0.167", concurrency = 1, timeout = 10, max_instances = 5 }
    provisioner     = { entry_point = "provisioner", runs_as = "provisioner", memory = "512Mi", cpu = "0.333", concurrency = 1, timeout = 540, max_instances = 10 }
    reconciler      = { entry_point = "reconciler", runs_as = "provisioner", memory = "512Mi", cpu = "0.333", concurrency = 1, timeout = 300, max_instances = 1 }
    certificates    = { entry_point = "certificates", runs_as = "certificates", memory = "512Mi", cpu = "0.333", concurrency = 1, timeout = 540, max_instances = 1 }
  }
  min_instances = { join_workshop = var.join_min_instances }

  # The instructor functions of each layout (var.api_layout): one per operation group by
  # default, or the all-in-one `api` at one URL. Learners, hosts and Google always get the
  # public and internal functions, whatever the layout.
  instructor_layouts = {
    split      = ["create_workshop", "start_workshop", "stop_workshop", "workshops", "control"]
    single_url = ["api"]
  }
  instructor_functions = local.instructor_layouts[var.api_layout]
  functions = {
    for name, spec in local.function_specs : name => spec
    if contains(concat(local.instructor_functions, local.public_functions, local.internal_functions), name)
  }

  # Who may invoke what. Each function is in exactly one of these (tests/deploy check it);
  # the internal ones are invoked by their caller's service account (iam.tf).
  public_functions   = ["join_workshop", "hosts", "jwks", "health"]
  internal_functions = ["provisioner", "reconciler", "certificates"]

  # Cloud Run's deterministic service URL (https://SERVICE-PROJECT_NUMBER.REGION.run.app);
  # service names use hyphens (join_workshop -> clarateach-join-workshop). Computing it
  # instead of reading the function's `url` lets functions name each other's URLs in their
  # environment without a dependency cycle.
  function_urls = {
    for name, _ in local.function_specs :
    name => "https://${var.name_prefix}-${replace(name, "_", "-")}-${local.project_number}.${var.region}.run.app"
  }

  # Workshop API-key secrets are named workshop-<id>...; every secret permission granted at
  # runtime is limited to this prefix. Secret Manager resource names use the project NUMBER.
  workshop_secret_prefix = "workshop-"
  workshop_secret_names  = "projects/${local.project_number}/secrets/${local.workshop_secret_prefix}"

  # Host VMs are named ct-<workshop id>-h<index> (shared.domain.model.host_name).
  host_name_prefix = "ct-"

  # Paths default to this repository's build outputs, wherever terraform is run from.
  web_dist_dir         = coalesce(var.web_dist_dir, "${path.module}/../web/dist")
  functions_source_zip = coalesce(var.functions_source_zip, "${path.module}/../dist/functions-source.zip")

  # docs/deployment.md builds, pushes and bakes exactly this reference (terraform output
  # seat_image), so the default tag and the baked one cannot drift apart.
  seat_image = coalesce(var.seat_image, "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.seats.repository_id}/seat:${var.seat_image_tag}")
  host_image = var.host_image

  # Origin of the web client: the bucket's own virtual-hosted origin (see web.tf).
  web_origin      = "https://${google_storage_bucket.web.name}.storage.googleapis.com"
  allowed_origins = distinct(concat([local.web_origin], var.web_origins))

  instructor_invokers = distinct(concat(var.instructor_principals, var.admin_principals))
  # The app's own allowlist: user:/serviceAccount: -> email, domain:x -> @x (group: members
  # are invisible to the app; list them in instructor_allowlist_extra).
  derived_allowlist = [
    for p in local.instructor_invokers :
    replace(replace(p, "/^(user|serviceAccount):/", ""), "/^domain:/", "@")
    if can(regex("^(user|serviceAccount|domain):", p))
  ]
  instructor_allowlist = distinct(concat(local.derived_allowlist, var.instructor_allowlist_extra))
  admin_emails         = [for p in var.admin_principals : split(":", p)[1]]
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "dns.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  project = var.project
  service = each.value

  # Destroying this configuration must not switch APIs off for anything else in the project.
  disable_on_destroy = false
}
