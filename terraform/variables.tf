# Inputs. Only `project` and `instructor_principals` have no default; see
# terraform.tfvars.example and docs/deployment.md.

variable "project" {
  description = "GCP project id that hosts the whole platform."
  type        = string
}

variable "region" {
  description = "Region for Cloud Functions, Cloud Scheduler, the subnet and Artifact Registry."
  type        = string
  default     = "us-central1"
}

variable "zone" {
  description = "Zone where host VMs are created."
  type        = string
  default     = "us-central1-a"
}

variable "firestore_location" {
  description = "Firestore location (a region such as us-central1, or a multi-region such as nam5)."
  type        = string
  default     = "us-central1"
}

variable "instructor_principals" {
  description = "IAM principals allowed to invoke the instructor functions, e.g. user:a@x.com, group:teachers@x.com, domain:x.com."
  type        = list(string)

  validation {
    condition     = alltrue(concat([can(var.instructor_principals[0])], [for p in var.instructor_principals : can(regex("^(user|group|domain|serviceAccount):[^\\s,]+$", p))]))
    error_message = "Give at least one principal, each as user:EMAIL, group:EMAIL, domain:DOMAIN or serviceAccount:EMAIL."
  }
}

variable "admin_principals" {
  description = "Principals who may invoke the instructor functions and see every workshop (user: or serviceAccount: only, the app matches their email)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.admin_principals : can(regex("^(user|serviceAccount):[^\\s,@]+@[^\\s,]+$", p))])
    error_message = "Admins must be user:EMAIL or serviceAccount:EMAIL."
  }
}

variable "instructor_allowlist_extra" {
  description = "Added to the app-level instructor allowlist (emails or @domain), which is otherwise derived from the user:, serviceAccount: and domain: principals. Needed for instructors granted through group: principals, whose membership the app cannot see."
  type        = list(string)
  default     = []
}

variable "instructor_token_audience" {
  description = "Expected `aud` of instructors' Google ID tokens. The default is the OAuth client of the gcloud CLI, i.e. the audience of `gcloud auth print-identity-token` for user accounts."
  type        = string
  default     = "32555940559.apps.googleusercontent.com"
}

variable "instructor_web_client_id" {
  description = "OAuth 2.0 web client ID (….apps.googleusercontent.com) of the cockpit's \"Sign in with Google\" (docs/deployment.md, Cockpit sign-in). Empty: no Google button; instructors paste an ID token. Set: the web config names it, the API accepts ID tokens with this audience, and the instructor functions also admit unauthenticated callers at the Cloud Run layer (browsers' CORS preflights carry no token), the app verifying every token itself."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^$|^[0-9A-Za-z.-]+\\.apps\\.googleusercontent\\.com$", var.instructor_web_client_id))
    error_message = "instructor_web_client_id must be an OAuth client ID ending in .apps.googleusercontent.com (or empty)."
  }
}

variable "workshop_domain" {
  description = "DNS domain for host endpoints (<host>.<domain>). Empty: trial mode with <ip>.sslip.io endpoints."
  type        = string
  default     = ""
}

variable "dns_managed_zone" {
  description = "Name of an existing Cloud DNS managed zone for workshop_domain; the provisioner may edit records in that zone only. Empty: no DNS permissions are granted."
  type        = string
  default     = ""
}

variable "acme_directory_url" {
  description = "ACME directory of the deployment's wildcard certificate (DNS-01 through dns_managed_zone). Let's Encrypt's staging directory (https://acme-staging-v02.api.letsencrypt.org/directory) has far higher limits, for trying a deployment out; its certificates are not trusted by browsers."
  type        = string
  default     = "https://acme-v02.api.letsencrypt.org/directory"

  validation {
    condition     = can(regex("^https://", var.acme_directory_url))
    error_message = "acme_directory_url must be an https:// URL."
  }
}

variable "acme_email" {
  description = "Contact address of the ACME account (the CA's expiry and policy notices). Optional."
  type        = string
  default     = ""
}

variable "certificate_slots" {
  description = "Host slot labels (s00, s01, ...) whose *.<slot>.<workshop_domain> names the deployment certificate covers besides *.<workshop_domain>, for per-host preview origins; each host then holds one slot (<slot>.<workshop_domain>), so this also caps the deployment's concurrent hosts (docs/deployment.md, Host slot labels). 0 (default): hosts keep their own names and GCP previews do not resolve. At most 99: one certificate holds at most 100 names."
  type        = number
  default     = 0

  validation {
    condition     = contains(range(100), var.certificate_slots)
    error_message = "certificate_slots must be a whole number from 0 to 99."
  }
}

variable "machine_type" {
  description = "Machine type of host VMs."
  type        = string
  default     = "e2-standard-4"
}

variable "host_disk_gb" {
  description = "Boot disk size of host VMs in GB."
  type        = number
  default     = 50
}

variable "max_seats" {
  description = "Upper bound on seats per workshop."
  type        = number
  default     = 500
}

variable "host_image" {
  description = "Host boot image or image family baked by images/host (projects/<project>/global/images/family/clarateach-host). Required: a public OS image has no workspace agent, so its hosts could never start."
  type        = string

  validation {
    # (Written without operators, which the configuration parser of tests/deploy cannot read:
    # non-empty, and no "projects/<p>/" of the URL is a public OS image project.)
    condition = alltrue([
      can(regex("^\\S+$", var.host_image)),
      contains([false], anytrue([
        for project in flatten(regexall("projects/([^/]+)/", var.host_image)) :
        contains(["debian-cloud", "ubuntu-os-cloud", "ubuntu-os-pro-cloud", "centos-cloud", "rocky-linux-cloud", "rhel-cloud", "cos-cloud", "fedora-coreos-cloud", "opensuse-cloud", "suse-cloud"], project)
      ])),
    ])
    error_message = "host_image must be the ClaraTeach host image baked from images/host (see docs/deployment.md), not a public OS image: the startup script does not install the workspace agent."
  }
}

variable "seat_image" {
  description = "Seat container image. Empty: <region>-docker.pkg.dev/<project>/clarateach/seat:<seat_image_tag> in the repository this configuration creates (terraform output seat_image; docs/deployment.md builds and bakes that reference)."
  type        = string
  default     = ""
}

variable "seat_image_tag" {
  description = "Tag of the default seat image. Bump it for every new seat image build, then rebuild the host image."
  type        = string
  default     = "v1"
}

variable "api_layout" {
  description = "split: one instructor function per operation group, each with its own service account (create_workshop, start_workshop, stop_workshop, workshops, control). single_url: the all-in-one `api` function instead (every route at one URL; its account holds those functions' rights together)."
  type        = string
  default     = "split"

  validation {
    condition     = contains(["split", "single_url"], var.api_layout)
    error_message = "api_layout: split or single_url."
  }
}

variable "join_min_instances" {
  description = "Warm instances of the join_workshop function. 0 between workshops; set 1-2 for the hour around a workshop's start (each idle instance of 1 vCPU / 1 GiB is billed at Cloud Run's idle min-instance rate, roughly $0.01-0.02 per hour; see docs/deployment.md)."
  type        = number
  default     = 0

  validation {
    condition     = contains([0, 1, 2, 3, 4, 5], var.join_min_instances)
    error_message = "join_min_instances: 0 to 5."
  }
}

variable "spot" {
  description = "Run host VMs as Spot VMs (cheaper, can be preempted)."
  type        = bool
  default     = false
}

variable "host_network_tag" {
  description = "Network tag carried by every host VM; the only target of the ingress firewall rule."
  type        = string
  default     = "clarateach-host"
}

variable "hosts_subnet_cidr" {
  description = "Primary range of the dedicated host subnet."
  type        = string
  default     = "10.60.0.0/20"
}

variable "web_origins" {
  description = "Extra exact web origins allowed by CORS (the web client bucket's origin is always allowed)."
  type        = list(string)
  default     = []
}

variable "web_dist_dir" {
  description = "Built web client (npm run build in web/). Terraform uploads every file in it except config.json, which it writes itself. Empty: web/dist of this repository."
  type        = string
  default     = ""
}

variable "functions_source_zip" {
  description = "Archive made by `nox -s package`. Empty: dist/functions-source.zip of this repository."
  type        = string
  default     = ""
}

variable "functions_runtime" {
  description = "Cloud Functions Python runtime."
  type        = string
  default     = "python312"
}

variable "name_prefix" {
  description = "Prefix of function, service account and bucket names; keeps several installs apart in one project."
  type        = string
  default     = "clarateach"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.name_prefix))
    error_message = "name_prefix: 2-15 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "jwt_issuer" {
  description = "`iss` claim of learner tokens."
  type        = string
  default     = "clarateach"
}

variable "provisioning_deadline_seconds" {
  description = "The reconciler fails workshops still provisioning after this long."
  type        = number
  default     = 900
}

variable "event_max_age_seconds" {
  description = "The provisioner acknowledges and drops events older than this."
  type        = number
  default     = 3600
}

variable "max_workshop_usd" {
  description = "Deployment-wide cost ceiling per workshop (VM estimate + model budget ceiling); a start whose estimate exceeds it is refused. 0: no ceiling."
  type        = number
  default     = 0
  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?$", tostring(var.max_workshop_usd)))
    error_message = "max_workshop_usd must be 0 (no ceiling) or a positive amount in USD."
  }
}

variable "retention_days" {
  description = "Stopped workshops stay listed with their final cost this many days, then the reconciler deletes them with their seats."
  type        = number
  default     = 30
  validation {
    condition     = can(regex("^[1-9][0-9]*$", tostring(var.retention_days)))
    error_message = "retention_days must be a whole number of days, at least 1."
  }
}

variable "content_retention_days" {
  description = "Days after its upload a workshop's content pack is deleted from the content bucket (lifecycle rule). Upload packs less than this before the workshop runs."
  type        = number
  default     = 90

  validation {
    condition     = can(regex("^[1-9][0-9]*$", tostring(var.content_retention_days)))
    error_message = "content_retention_days must be a whole number of days, at least 1."
  }
}
