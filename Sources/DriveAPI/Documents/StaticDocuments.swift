// The documents drivesd serves verbatim: the drive and license schemas and the capabilities
// template, taken from the responses of the real API captured in cloudsigma-docs' dumps.
// Data, not code: keep them byte-for-byte what the API sent (reformatted).

enum StaticDocuments {
    static let driveSchema = #"""
{
  "allowed_detail_http_methods": [
    "get",
    "put",
    "delete"
  ],
  "allowed_list_http_methods": [
    "get",
    "put",
    "delete",
    "post"
  ],
  "default_format": "application/json",
  "default_limit": 20,
  "fields": {
    "affinities": {
      "choices": [
        "ssd"
      ],
      "default": [],
      "help_text": "A list of affinities this drive should belong to",
      "readonly": false,
      "required": false,
      "type": "list"
    },
    "allow_multimount": {
      "default": false,
      "help_text": "Allow the drive to be mounted on multiple guests. Not taken into account when drive is cdrom.",
      "readonly": false,
      "required": false,
      "type": "boolean"
    },
    "backup_scheduler": {
      "default": "No default provided.",
      "help_text": "Drive's Backup scheduler",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "grantees": {
      "default": "No default provided.",
      "help_text": "A list of data. Ex: ['abc', 26.73, 8]",
      "readonly": false,
      "required": false,
      "type": "list"
    },
    "iops": {
      "default": null,
      "help_text": "IOPS limit per drive",
      "readonly": false,
      "required": false,
      "type": "integer"
    },
    "jobs": {
      "default": "No default provided.",
      "help_text": "Background jobs related to this resource",
      "readonly": true,
      "required": true,
      "type": "related"
    },
    "licenses": {
      "default": [],
      "fields": {
        "amount": {
          "default": 1,
          "help_text": "Number of licenses",
          "readonly": false,
          "required": false,
          "type": "integer"
        },
        "license": {
          "default": "No default provided.",
          "help_text": "A single related resource. Can be either a URI or set of nested resource data.",
          "readonly": false,
          "required": true,
          "type": "related"
        },
        "user": {
          "default": null,
          "help_text": "Owner of the license",
          "readonly": false,
          "required": false,
          "type": "related"
        }
      },
      "help_text": "A list of licenses attached to this drive",
      "readonly": false,
      "required": false,
      "type": "related"
    },
    "media": {
      "choices": [
        "cdrom",
        "disk"
      ],
      "default": null,
      "help_text": "Media representation type",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "meta": {
      "default": {},
      "help_text": "User defined meta information",
      "readonly": false,
      "required": false,
      "type": "dict"
    },
    "mounted_on": {
      "default": "No default provided.",
      "help_text": "Servers on which this drive is mounted on",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "name": {
      "default": null,
      "help_text": "Human readable name of the drive",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "owner": {
      "default": null,
      "help_text": "Owner of the drive",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "permissions": {
      "default": "No default provided.",
      "help_text": "A list of data. Ex: ['abc', 26.73, 8]",
      "readonly": false,
      "required": false,
      "type": "list"
    },
    "remote_snapshots": {
      "default": "No default provided.",
      "help_text": "Drive's Remote snapshots",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "resource_uri": {
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "readonly": true,
      "required": true,
      "type": "string"
    },
    "runtime": {
      "default": "No default provided.",
      "fields": {
        "is_downloadable": {
          "default": "No default provided.",
          "help_text": "Specifies if the drive supports downloads",
          "readonly": true,
          "required": true,
          "type": "boolean"
        },
        "is_ephemeral": {
          "default": "No default provided.",
          "help_text": "Specifies if the drive is ephemeral",
          "readonly": true,
          "required": true,
          "type": "boolean"
        },
        "is_snapshotable": {
          "default": "No default provided.",
          "help_text": "Specifies if the drive supports snapshotting",
          "readonly": true,
          "required": true,
          "type": "boolean"
        },
        "snapshots_allocated_size": {
          "default": "No default provided.",
          "help_text": "Sum of the allocated size of this drive's snapshots",
          "readonly": true,
          "required": true,
          "type": "integer"
        },
        "storage_type": {
          "default": "No default provided.",
          "help_text": "Underlying storage",
          "readonly": true,
          "required": true,
          "type": "string"
        }
      },
      "help_text": "Runtime information of the drive",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "size": {
      "default": null,
      "help_text": "Size of the drive in bytes",
      "readonly": false,
      "required": true,
      "type": "integer"
    },
    "snapshots": {
      "default": "No default provided.",
      "help_text": "Servers on which this drive is mounted on",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "status": {
      "default": "No default provided.",
      "help_text": "Status of the drive.",
      "readonly": true,
      "required": true,
      "type": "string"
    },
    "storage_type": {
      "choices": [
        "magnetic",
        "ssd",
        "dssd",
        "zadara",
        "nvme",
        "local_nvme"
      ],
      "default": null,
      "help_text": "Underlying storage",
      "readonly": false,
      "required": false,
      "type": "string"
    },
    "tags": {
      "default": "No default provided.",
      "help_text": "Many related resources. Can be either a list of URIs or list of individually nested resource data.",
      "readonly": false,
      "required": false,
      "type": "related"
    },
    "uuid": {
      "default": null,
      "help_text": "UUID of the drive",
      "readonly": true,
      "required": true,
      "type": "string"
    }
  },
  "filtering": {
    "name": "exact",
    "name__contains": "exact",
    "tag": "exact",
    "uuid": "exact"
  },
  "ordering": [
    "uuid",
    "name"
  ]
}
"""#

    static let licenseSchema = #"""
{
  "allowed_detail_http_methods": [
    "get"
  ],
  "allowed_list_http_methods": [
    "get"
  ],
  "default_format": "application/json",
  "default_limit": 20,
  "fields": {
    "burstable": {
      "blank": false,
      "default": false,
      "help_text": "Whether this resource can be used on burst",
      "nullable": false,
      "readonly": false,
      "type": "boolean",
      "unique": false
    },
    "long_name": {
      "blank": false,
      "default": "",
      "help_text": "A human readable name for the resource.",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "name": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Name that should be used when purchasing",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": true
    },
    "resource_uri": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "type": {
      "blank": false,
      "default": "instance",
      "help_text": "Type of billing",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "user_metric": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "The metric that the user is charged for",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    }
  }
}
"""#

    static let capabilities = #"""
{
  "backfilling": false,
  "card_backend": "StripeBackend",
  "currencies": [
    {
      "id": "CHF",
      "name": "chf"
    },
    {
      "id": "USD",
      "name": "usd"
    },
    {
      "id": "EUR",
      "name": "eur"
    },
    {
      "id": "GBP",
      "name": "gbp"
    },
    {
      "id": "PHP",
      "name": "php"
    },
    {
      "id": "AUD",
      "name": "aud"
    },
    {
      "id": "SAR",
      "name": "sar"
    },
    {
      "id": "JPY",
      "name": "jpy"
    }
  ],
  "default_inactive_period": 45,
  "default_storage_type": "dssd",
  "drives": {
    "dssd": {
      "iops": {
        "base": 30000,
        "max": 60000,
        "min": 1
      },
      "max_size": 15492389427364,
      "min_size": 536870912,
      "size": {
        "max": 15492389427364,
        "min": 536870912
      }
    },
    "nvme": {
      "iops": {
        "base": 30000,
        "max": 60000,
        "min": 1
      },
      "max_size": 12074020121525,
      "min_size": 536870912,
      "size": {
        "max": 12074020121525,
        "min": 536870912
      }
    },
    "zadara": {
      "iops": {
        "base": 4000,
        "max": 8000,
        "min": 1
      },
      "max_size": 14180205493621,
      "min_size": 1073741824.0,
      "size": {
        "max": 14180205493621,
        "min": 1073741824.0
      }
    }
  },
  "hosts": {
    "amd": {
      "cpu": {
        "max": 96000,
        "min": 250
      },
      "cpu_per_smp": {
        "max": 2893,
        "min": 1000
      },
      "mem": {
        "max": 558345748480,
        "min": 268435456
      },
      "smp": {
        "max": 32,
        "min": 1
      }
    },
    "intel": {
      "cpu": {
        "max": 96000,
        "min": 250
      },
      "cpu_per_smp": {
        "max": 3000,
        "min": 1000
      },
      "mem": {
        "max": 558345748480,
        "min": 268435456
      },
      "smp": {
        "max": 32,
        "min": 1
      }
    }
  },
  "hypervisors": {
    "kvm": [
      "intel",
      "amd"
    ]
  },
  "inactive_period_range": {
    "max": 250,
    "min": 0
  },
  "remote_snapshots": {
    "current": 0,
    "max": 600,
    "remote_locations": [
      "TBC"
    ]
  },
  "servers": {
    "cpu": {
      "max": 96000,
      "min": 250
    },
    "cpu_per_smp": {
      "max": 3000,
      "min": 1000
    },
    "default_start_method": "regular",
    "mem": {
      "max": 558345748480,
      "min": 268435456
    },
    "smp": {
      "max": 32,
      "min": 1
    },
    "start_methods": [
      "eager",
      "lazy",
      "regular"
    ]
  },
  "snapshots": {
    "current": 0,
    "max": 700,
    "max_per_drive": 90
  }
}
"""#

    static let jobSchema = #"""
{
  "allowed_detail_http_methods": [
    "get"
  ],
  "allowed_list_http_methods": [
    "get"
  ],
  "default_format": "application/json",
  "default_limit": 20,
  "fields": {
    "children": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Background jobs, initiated by this job.",
      "nullable": true,
      "readonly": false,
      "type": "related",
      "unique": false
    },
    "created": {
      "blank": false,
      "default": "2014-06-05T09:46:41.793232+00:00",
      "help_text": "A date & time as a string. Ex: \"2010-11-10T03:07:43\"",
      "nullable": false,
      "readonly": false,
      "type": "datetime",
      "unique": false
    },
    "data": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Meta information related to this background job's execution.",
      "nullable": true,
      "readonly": false,
      "type": "object",
      "unique": false
    },
    "last_modified": {
      "blank": false,
      "default": "2014-06-05T09:46:41.793249+00:00",
      "help_text": "A date & time as a string. Ex: \"2010-11-10T03:07:43\"",
      "nullable": false,
      "readonly": false,
      "type": "datetime",
      "unique": false
    },
    "operation": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": true,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "resource_uri": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "resources": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Resources linked to this background job.",
      "nullable": true,
      "readonly": false,
      "type": "list",
      "unique": false
    },
    "state": {
      "blank": false,
      "default": "started",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "uuid": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": true
    }
  },
  "filtering": {
    "state": 1
  },
  "ordering": [
    "-last_modified"
  ]
}
"""#
    static let libdriveSchema = #"""
{
  "allowed_detail_http_methods": [
    "get"
  ],
  "allowed_list_http_methods": [
    "get"
  ],
  "default_format": "application/json",
  "default_limit": 20,
  "fields": {
    "affinities": {
      "choices": [
        "ssd"
      ],
      "default": [],
      "help_text": "A list of affinities this drive should belong to",
      "readonly": false,
      "required": false,
      "type": "list"
    },
    "allow_multimount": {
      "default": false,
      "help_text": "Allow the drive to be mounted on multiple guests. Not taken into account when drive is cdrom.",
      "readonly": false,
      "required": false,
      "type": "boolean"
    },
    "arch": {
      "default": null,
      "help_text": "Operating system bit architecture the drive.",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "category": {
      "default": [],
      "help_text": "Category of the drive.",
      "readonly": false,
      "required": false,
      "type": "list"
    },
    "description": {
      "default": null,
      "help_text": "Description of drive image.",
      "readonly": false,
      "required": false,
      "type": "string"
    },
    "distribution": {
      "default": null,
      "help_text": "OS distribution of the drive.",
      "readonly": false,
      "required": false,
      "type": "string"
    },
    "favourite": {
      "default": null,
      "help_text": "Favourite drive image for user.",
      "readonly": false,
      "required": true,
      "type": "boolean"
    },
    "image_type": {
      "default": null,
      "help_text": "Type of drive image.",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "install_notes": {
      "default": null,
      "help_text": "Install notes for the drive image.",
      "readonly": false,
      "required": false,
      "type": "string"
    },
    "jobs": {
      "default": "No default provided.",
      "help_text": "Background jobs related to this resource",
      "readonly": true,
      "required": true,
      "type": "related"
    },
    "licenses": {
      "default": [],
      "fields": {
        "amount": {
          "default": 1,
          "help_text": "Number of licenses",
          "readonly": false,
          "required": false,
          "type": "integer"
        },
        "license": {
          "default": "No default provided.",
          "help_text": "A single related resource. Can be either a URI or set of nested resource data.",
          "readonly": false,
          "required": true,
          "type": "related"
        },
        "user": {
          "default": null,
          "help_text": "Owner of the license",
          "readonly": false,
          "required": false,
          "type": "related"
        }
      },
      "help_text": "A list of licenses attached to this drive",
      "readonly": false,
      "required": false,
      "type": "related"
    },
    "media": {
      "choices": [
        "cdrom",
        "disk"
      ],
      "default": null,
      "help_text": "Media representation type",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "meta": {
      "default": {},
      "help_text": "User defined meta information",
      "readonly": false,
      "required": false,
      "type": "dict"
    },
    "mounted_on": {
      "default": "No default provided.",
      "help_text": "Servers on which this drive is mounted on",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "name": {
      "default": null,
      "help_text": "Human readable name of the drive",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "os": {
      "default": null,
      "help_text": "Operating system of the drive.",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "owner": {
      "default": null,
      "help_text": "Owner of the drive",
      "readonly": true,
      "required": false,
      "type": "related"
    },
    "paid": {
      "default": null,
      "help_text": "Paid or free.",
      "readonly": false,
      "required": true,
      "type": "boolean"
    },
    "resource_uri": {
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "readonly": true,
      "required": true,
      "type": "string"
    },
    "size": {
      "default": null,
      "help_text": "Size of the drive in bytes",
      "readonly": false,
      "required": true,
      "type": "integer"
    },
    "status": {
      "default": "No default provided.",
      "help_text": "Status of the drive.",
      "readonly": true,
      "required": true,
      "type": "string"
    },
    "storage_type": {
      "default": "No default provided.",
      "help_text": "Underlying storage",
      "readonly": false,
      "required": true,
      "type": "string"
    },
    "tags": {
      "default": "No default provided.",
      "help_text": "Many related resources. Can be either a list of URIs or list of individually nested resource data.",
      "readonly": false,
      "required": false,
      "type": "related"
    },
    "url": {
      "default": null,
      "help_text": "Operating system bit architecture the drive.",
      "readonly": false,
      "required": false,
      "type": "string"
    },
    "uuid": {
      "default": null,
      "help_text": "UUID of the drive",
      "readonly": true,
      "required": true,
      "type": "string"
    },
    "version": {
      "default": null,
      "help_text": "OS version of the drive.",
      "readonly": false,
      "required": false,
      "type": "string"
    }
  },
  "filtering": {
    "arch": "exact",
    "category": "exact",
    "distribution": "exact",
    "image_type": "exact",
    "name": "exact",
    "name__icontains": "exact",
    "os": "exact",
    "uuid": "exact",
    "version": "exact"
  }
}
"""#

    static let tagSchema = #"""
{
  "allowed_detail_http_methods": [
    "get",
    "put",
    "delete"
  ],
  "allowed_list_http_methods": [
    "get",
    "post"
  ],
  "default_format": "application/json",
  "default_limit": 20,
  "fields": {
    "meta": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "A dictionary of data. Ex: {'price': 26.73, 'name': 'Daniel'}",
      "nullable": false,
      "readonly": false,
      "type": "dict",
      "unique": false
    },
    "name": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": false,
      "type": "string",
      "unique": false
    },
    "owner": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "A single related resource. Can be either a URI or set of nested resource data.",
      "nullable": false,
      "readonly": true,
      "type": "related",
      "unique": false
    },
    "resource_uri": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": true,
      "type": "string",
      "unique": false
    },
    "resources": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Many related resources. Can be either a list of URIs or list of individually nested resource data.",
      "nullable": true,
      "readonly": false,
      "type": "related",
      "unique": false
    },
    "uuid": {
      "blank": false,
      "default": "No default provided.",
      "help_text": "Unicode string data. Ex: \"Hello World\"",
      "nullable": false,
      "readonly": true,
      "type": "string",
      "unique": false
    }
  }
}
"""#
}
