# Workshop content packs (docs/content-packs.md): one private bucket, objects
# workshops/<id>/content.zip, written by PUT /api/workshops/{id}/content (create_workshop, or
# api in the single_url layout) and read by the functions that serve them: hosts
# (GET /api/hosts/content, to a VM that proved which workshop it serves) and workshops
# (progress reads the pack's steps). The host VMs' account has no access at all: a VM gets
# only its own workshop's pack, through the hosts function.

resource "google_storage_bucket" "content" {
  project                     = var.project
  name                        = "${var.project}-${var.name_prefix}-content"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # Packs of deleted and long-finished workshops do not linger.
  lifecycle_rule {
    condition {
      age = var.content_retention_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "content_writers" {
  for_each = {
    api             = google_service_account.api.email
    create_workshop = google_service_account.create_workshop.email
  }

  bucket = google_storage_bucket.content.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${each.value}"
}

resource "google_storage_bucket_iam_member" "content_readers" {
  for_each = {
    hosts     = google_service_account.hosts.email
    workshops = google_service_account.workshops.email
  }

  bucket = google_storage_bucket.content.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${each.value}"
}
