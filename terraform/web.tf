# Static web client: a public bucket, served at https://<bucket>.storage.googleapis.com/.
# The virtual-hosted URL gives the client an origin of its own (path-style
# storage.googleapis.com/<bucket> would share one origin, and its localStorage, with every
# public bucket). The website block serves index.html for a custom domain pointed at the
# bucket through a load balancer, should you add one.

resource "google_storage_bucket" "web" {
  project                     = var.project
  name                        = "${var.project}-${var.name_prefix}-web"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "inherited"
  force_destroy               = true

  website {
    main_page_suffix = "index.html"
    not_found_page   = "index.html"
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "web_public_read" {
  bucket = google_storage_bucket.web.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}

locals {
  web_content_types = {
    html  = "text/html; charset=utf-8"
    js    = "text/javascript; charset=utf-8"
    mjs   = "text/javascript; charset=utf-8"
    css   = "text/css; charset=utf-8"
    json  = "application/json"
    map   = "application/json"
    svg   = "image/svg+xml"
    png   = "image/png"
    ico   = "image/x-icon"
    woff2 = "font/woff2"
    txt   = "text/plain; charset=utf-8"
    wasm  = "application/wasm"
  }
  # config.json is written below from Terraform values, never uploaded from the build.
  web_files = setsubtract(fileset(local.web_dist_dir, "**"), ["config.json"])
}

# Publishing the client is part of `terraform apply` (build web/ first). Hashed asset names
# can be cached; index.html must revalidate so a new build is picked up at once.
resource "google_storage_bucket_object" "web_files" {
  for_each = local.web_files

  bucket        = google_storage_bucket.web.name
  name          = each.value
  source        = "${local.web_dist_dir}/${each.value}"
  content_type  = lookup(local.web_content_types, lower(regex("[^.]*$", each.value)), "application/octet-stream")
  cache_control = startswith(each.value, "assets/") ? "public, max-age=31536000, immutable" : "no-cache"
}

# Runtime configuration read by web/src/config.ts: learners join through the public join URL;
# the cockpit calls each operation at its function (apiUrls, the same map as output api_urls;
# web/src/routing.ts) and signs in with Google when googleClientId is set.
resource "google_storage_bucket_object" "web_config" {
  bucket        = google_storage_bucket.web.name
  name          = "config.json"
  content_type  = "application/json"
  cache_control = "no-store"
  content = jsonencode({
    apiBaseUrl     = local.function_urls["join_workshop"]
    apiUrls        = { for name in concat(local.instructor_functions, local.public_functions) : name => local.function_urls[name] }
    googleClientId = var.instructor_web_client_id
  })
}
