output "api_urls" {
  description = "Base URL of each API function (CLARATEACH_API_URLS for the CLI, as JSON: terraform output -json api_urls). The CLI sends each operation to its function (functions/entrypoints.py)."
  value       = { for name in concat(local.instructor_functions, local.public_functions) : name => local.function_urls[name] }
}

output "api_base_url" {
  description = "The all-in-one `api` URL (CLARATEACH_API_URL for the CLI) when api_layout = single_url; empty in the split layout (use api_urls)."
  value       = lookup({ single_url = local.function_urls["api"] }, var.api_layout, "")
}

output "public_api_urls" {
  description = "The public functions' base URLs: join_workshop (web client apiBaseUrl), hosts and jwks (host VMs), health."
  value       = { for name in local.public_functions : name => local.function_urls[name] }
}

output "web_client_url" {
  description = "Where learners open the web client."
  value       = "${local.web_origin}/index.html"
}

output "web_bucket" {
  description = "Bucket holding the web client."
  value       = google_storage_bucket.web.name
}

output "seat_image" {
  description = "Seat image the hosts run; push images/seat here."
  value       = local.seat_image
}

output "host_service_account" {
  description = "Service account of host VMs (use it when baking the host image too)."
  value       = google_service_account.host.email
}

output "function_service_urls" {
  description = "URLs reported by Cloud Functions for each function (the same services as api_urls)."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.service_config[0].uri }
}

output "content_bucket" {
  description = "Cloud Storage bucket of workshop content packs (CLARATEACH_CONTENT_BUCKET of the functions; private: functions only)."
  value       = google_storage_bucket.content.name
}
