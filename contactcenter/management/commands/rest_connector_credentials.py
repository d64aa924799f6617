"""Create (or replace) a REST connector's token and signing secret from the command line, shown once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.models import Connector
from contactcenter.services.rest_connector import rest_connector_callback_set, rest_connector_token_rotate


class Command(BaseCommand):
    help = (
        "Create or replace the bearer token and callback signing secret of a REST connector and print them "
        "(they are not stored in readable form). The old token stops working at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connector", type=UUID, help="The connector's public id (uuid).")
        parser.add_argument("--callback-url", default=None, help="Also set the callback URL.")

    def handle(self, *args: Any, **options: Any) -> None:
        connector = Connector.objects.filter(uuid=options["connector"], kind=ConnectorKind.REST).first()
        if connector is None:
            raise CommandError("No REST connector with this id.")
        if options["callback_url"] is not None:
            try:
                rest_connector_callback_set(connector=connector, callback_url=options["callback_url"])
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from None
        credentials = rest_connector_token_rotate(connector=connector)
        self.stdout.write(f"token: {credentials.token}")
        self.stdout.write(f"signing secret: {credentials.signing_secret}")
