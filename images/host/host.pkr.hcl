# Pre-baked ClaraTeach host image (Packer, googlecompute builder).
#
#   pip wheel --no-deps -w dist .           # -> dist/clarateach-<version>-py3-none-any.whl
#   cd images/host && packer init . && packer build \
#     -var project=PROJECT -var zone=us-central1-a \
#     -var seat_image=us-central1-docker.pkg.dev/PROJECT/clarateach/seat:TAG \
#     -var agent_wheel=../../dist/clarateach-0.1.0-py3-none-any.whl \
#     -var service_account_email=$(terraform -chdir=../../terraform output -raw host_service_account) \
#     .
#
# Produces an image in family "clarateach-host"; set terraform's host_image to
# projects/PROJECT/global/images/family/clarateach-host.
#
# The build VM runs as the host service account (it may pull the seat image) and is reached
# through OS Login, so no local SSH user takes UID 1000, which the agent user needs.

packer {
  required_plugins {
    googlecompute = {
      source  = "github.com/hashicorp/googlecompute"
      version = "~> 1.1"
    }
  }
}

variable "project" {
  type = string
}

variable "zone" {
  type    = string
  default = "us-central1-a"
}

variable "seat_image" {
  type        = string
  description = "Seat image to pre-pull (images/seat, pushed to Artifact Registry)."
}

variable "agent_wheel" {
  type        = string
  description = "The clarateach wheel (pip wheel --no-deps -w dist .)."
}

variable "service_account_email" {
  type        = string
  description = "Service account of the build VM; the host SA can read the seat repository."
}

variable "image_family" {
  type    = string
  default = "clarateach-host"
}

locals {
  stamp = formatdate("YYYYMMDD-hhmmss", timestamp())
  wheel = basename(var.agent_wheel)
}

source "googlecompute" "host" {
  project_id              = var.project
  zone                    = var.zone
  source_image_family     = "debian-12"
  source_image_project_id = ["debian-cloud"]
  machine_type            = "e2-standard-4"
  disk_size               = 50
  disk_type               = "pd-balanced"
  image_name              = "${var.image_family}-${local.stamp}"
  image_family            = var.image_family
  image_description       = "ClaraTeach host: Docker, Caddy, workspace agent, seat image ${var.seat_image}"
  image_labels            = { clarateach = "host-image" }
  ssh_username            = "packer"
  use_os_login            = true
  service_account_email   = var.service_account_email
  scopes                  = ["https://www.googleapis.com/auth/cloud-platform"]
  enable_secure_boot      = true
  metadata = {
    disable-legacy-endpoints = "true"
    enable-oslogin           = "TRUE"
  }
}

build {
  sources = ["source.googlecompute.host"]

  provisioner "file" {
    source      = var.agent_wheel
    destination = "/tmp/${local.wheel}"
  }

  provisioner "file" {
    source      = "${path.root}/../../shared/host_bootstrap/docker-daemon.json"
    destination = "/tmp/docker-daemon.json"
  }

  provisioner "shell" {
    script = "${path.root}/install-host.sh"
    environment_vars = [
      "AGENT_WHEEL=/tmp/${local.wheel}",
      "SEAT_IMAGE=${var.seat_image}",
      "DOCKER_DAEMON_JSON=/tmp/docker-daemon.json",
    ]
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
  }
}
