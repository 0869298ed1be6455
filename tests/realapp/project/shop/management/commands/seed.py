"""Seed the help desk: a superuser, a staff clerk with the shop's permissions, customers and
orders. Passwords come from the environment (DESKAPP_ADMIN_PASSWORD, DESKAPP_CLERK_PASSWORD)."""

import os
from decimal import Decimal

from django.contrib.auth.models import Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction

from shop.models import Customer, Order

CUSTOMERS = [
    ("Ada Lovelace", "ada@analytical.test"),
    ("Grace Hopper", "grace@cobol.test"),
    ("Alan Turing", "alan@bletchley.test"),
    ("Edsger Dijkstra", "edsger@goto.test"),
]
ORDERS = [
    ("SO-1001", 0, "shipped", "129.90"),
    ("SO-1002", 0, "delivered", "18.50"),
    ("SO-1003", 1, "new", "342.00"),
    ("SO-1004", 1, "shipped", "75.25"),
    ("SO-1005", 2, "delivered", "9.99"),
    ("SO-1006", 2, "new", "250.00"),
    ("SO-1007", 3, "shipped", "61.40"),
    ("SO-1008", 3, "delivered", "480.00"),
]
CLERK_PERMISSIONS = [
    "view_customer",
    "view_order",
    "change_order",
    "view_ticket",
    "add_ticket",
]


class Command(BaseCommand):
    help = "Create the users and the seeded rows of the help desk."

    @transaction.atomic
    def handle(self, *args, **options):
        User.objects.create_superuser(
            "admin", "admin@desk.test", os.environ["DESKAPP_ADMIN_PASSWORD"]
        )
        clerk = User.objects.create_user(
            "clerk", "clerk@desk.test", os.environ["DESKAPP_CLERK_PASSWORD"], is_staff=True
        )
        clerk.user_permissions.set(Permission.objects.filter(codename__in=CLERK_PERMISSIONS))
        customers = [Customer.objects.create(name=n, email=e) for n, e in CUSTOMERS]
        for number, who, status, total in ORDERS:
            Order.objects.create(
                number=number, customer=customers[who], status=status, total=Decimal(total)
            )
