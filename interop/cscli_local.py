"""Run the `cscli` command line against a local drivesd.

cscli hard-codes https://{region}.cloudsigma.com/api/2.0/ into pycloudsigma's configuration.
This wrapper makes GenericClient.api_endpoint a class-level property that always answers
$DRIVESD_API_ENDPOINT and ignores what the constructor assigns, then hands over to cscli's own
click entry point (the `cscli` console script) with the remaining arguments.

`drive NAME upload` does not go through pycloudsigma: cscli posts the image with requests to its
own `CloudSigmaClient.upload_endpoint`, https://direct.{region}.cloudsigma.com/api/2.0/drives/upload/,
set in the constructor. That attribute gets the same treatment: a property answering
$DRIVESD_API_ENDPOINT + "drives/upload/".
"""
import os

from cloudsigma.generic import GenericClient

ENDPOINT = os.environ["DRIVESD_API_ENDPOINT"]
GenericClient.api_endpoint = property(lambda self: ENDPOINT, lambda self, value: None)

from cscli.api_client import CloudSigmaClient  # noqa: E402

CloudSigmaClient.upload_endpoint = property(lambda self: ENDPOINT + "drives/upload/",
                                            lambda self, value: None)

from cscli.cli import cli  # noqa: E402  (after the patch, as cscli imports cloudsigma lazily)

if __name__ == "__main__":
    cli(prog_name="cscli")
