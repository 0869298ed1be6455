"""A help desk's data: customers, their orders, and tickets filed about orders."""

from django.conf import settings
from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField(unique=True)

    def __str__(self):
        return self.name


class Order(models.Model):
    STATUSES = [
        ("new", "New"),
        ("shipped", "Shipped"),
        ("delivered", "Delivered"),
        ("refunded", "Refunded"),
        ("on_hold", "On hold"),
    ]
    number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=20, choices=STATUSES, default="new")
    total = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["number"]

    def __str__(self):
        return self.number


class Ticket(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tickets")
    contact_email = models.EmailField()
    subject = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, editable=False, null=True
    )

    def __str__(self):
        return self.subject
