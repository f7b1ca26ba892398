# State, events, the signing-key secret and the seat image repository.

resource "google_firestore_database" "main" {
  project                 = var.project
  name                    = "(default)"
  location_id             = var.firestore_location
  type                    = "FIRESTORE_NATIVE"
  concurrency_mode        = "PESSIMISTIC"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.apis]
}

# Composite indexes for list_workshops (newest first, id as tie-breaker), with and without the
# owner filter: shared/adapters/firestore_store.py REQUIRED_INDEXES (tests/deploy compare them).
resource "google_firestore_index" "workshops_by_owner_newest" {
  project    = var.project
  database   = google_firestore_database.main.name
  collection = "workshops"

  fields {
    field_path = "owner"
    order      = "ASCENDING"
  }
  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
  fields {
    field_path = "id"
    order      = "DESCENDING"
  }
}

resource "google_firestore_index" "workshops_newest" {
  project    = var.project
  database   = google_firestore_database.main.name
  collection = "workshops"

  fields {
    field_path = "created_at"
    order      = "DESCENDING"
  }
  fields {
    field_path = "id"
    order      = "DESCENDING"
  }
}

# Processed-event markers (the provisioner's at-least-once guard) expire by themselves once
# Pub/Sub can no longer redeliver them. Nothing queries expire_at, so it is not indexed.
resource "google_firestore_field" "processed_events_ttl" {
  project    = var.project
  database   = google_firestore_database.main.name
  collection = "processed_events"
  field      = "expire_at"

  index_config {}
  ttl_config {}
}

# The container only; the functions write the first key version on first use (or an operator
# seeds one, see docs/deployment.md). Its value never passes through Terraform state.
resource "google_secret_manager_secret" "jwt_signing_key" {
  project   = var.project
  secret_id = "${var.name_prefix}-jwt-signing-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# The only principals that can read or add versions of the signing key: the functions that
# sign learner, shadow or host control tokens, or publish the public keys (any of them may be
# the first to need a key and add it).
locals {
  signing_key_users = {
    api           = google_service_account.api.email
    control       = google_service_account.control.email
    join_workshop = google_service_account.join_workshop.email
    jwks          = google_service_account.jwks.email
  }
}

resource "google_secret_manager_secret_iam_member" "jwt_key_accessor" {
  for_each = local.signing_key_users

  project   = var.project
  secret_id = google_secret_manager_secret.jwt_signing_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${each.value}"
}

# Listing the enabled versions: every instance signs with the oldest and publishes all
# (shared/auth/signing.py). Viewer lists and describes versions; it cannot read a value.
resource "google_secret_manager_secret_iam_member" "jwt_key_version_lister" {
  for_each = local.signing_key_users

  project   = var.project
  secret_id = google_secret_manager_secret.jwt_signing_key.secret_id
  role      = "roles/secretmanager.viewer"
  member    = "serviceAccount:${each.value}"
}

resource "google_secret_manager_secret_iam_member" "jwt_key_version_adder" {
  for_each = local.signing_key_users

  project   = var.project
  secret_id = google_secret_manager_secret.jwt_signing_key.secret_id
  role      = "roles/secretmanager.secretVersionAdder"
  member    = "serviceAccount:${each.value}"
}

resource "google_pubsub_topic" "workshop_events" {
  project                    = var.project
  name                       = "workshop-events"
  message_retention_duration = "86400s"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "workshop_events_dead_letter" {
  project = var.project
  name    = "workshop-events-dead-letter"

  depends_on = [google_project_service.apis]
}

# Push delivery to the provisioner, authenticated with an OIDC token of the push SA (the only
# invoker of the provisioner). Retries back off exponentially; after max_delivery_attempts a
# message is parked on the dead-letter topic instead of being retried forever.
resource "google_pubsub_subscription" "provisioner" {
  project = var.project
  name    = "${var.name_prefix}-provisioner"
  topic   = google_pubsub_topic.workshop_events.id

  # The provisioner may create several VMs before answering; push waits for the HTTP reply.
  ack_deadline_seconds       = 600
  message_retention_duration = "86400s"
  enable_message_ordering    = true

  push_config {
    push_endpoint = google_cloudfunctions2_function.fn["provisioner"].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = google_cloudfunctions2_function.fn["provisioner"].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.workshop_events_dead_letter.id
    max_delivery_attempts = 10
  }

  expiration_policy {
    ttl = ""
  }
}

# Parked messages stay readable for a week: `gcloud pubsub subscriptions pull`.
resource "google_pubsub_subscription" "dead_letters" {
  project                    = var.project
  name                       = "${var.name_prefix}-dead-letters"
  topic                      = google_pubsub_topic.workshop_events_dead_letter.id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# Dead lettering is done by the Pub/Sub service agent: it must publish to the dead-letter
# topic and acknowledge on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project
  topic   = google_pubsub_topic.workshop_events_dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  project      = var.project
  subscription = google_pubsub_subscription.provisioner.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  depends_on = [google_project_service.apis]
}

resource "google_artifact_registry_repository" "seats" {
  project       = var.project
  location      = var.region
  repository_id = var.name_prefix
  format        = "DOCKER"
  description   = "ClaraTeach seat container images (images/seat)."

  depends_on = [google_project_service.apis]
}

# Hosts pull the seat image (only when it is not pre-baked) from this repository alone.
resource "google_artifact_registry_repository_iam_member" "host_reads_seat_images" {
  project    = var.project
  location   = google_artifact_registry_repository.seats.location
  repository = google_artifact_registry_repository.seats.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.host.email}"
}

resource "google_cloud_scheduler_job" "reconciler" {
  project          = var.project
  region           = var.region
  name             = "${var.name_prefix}-reconciler"
  description      = "Runs the reconciler every minute: deadlines, lost hosts, orphaned VMs."
  schedule         = "* * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "320s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn["reconciler"].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.fn["reconciler"].service_config[0].uri
    }
  }

  depends_on = [google_project_service.apis]
}
