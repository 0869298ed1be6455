"""A small shop on Flask-Admin (installed from PyPI), for the relocation corpus: customers and
orders in SQLite, their list, create and edit views in the template mode named by
SHOP_TEMPLATE_MODE (bootstrap2, bootstrap3 or bootstrap4: the themes Flask-Admin ships).

Run with the interpreter of a virtualenv holding flask-admin 1.6.1, Flask 2, WTForms < 3.1,
SQLAlchemy < 2 and Flask-SQLAlchemy < 3.1 (bench/relocation/capture.py makes one):
    python shop_flask_admin.py PORT
"""

import os
import sys

from flask import Flask, redirect
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
app.config["SECRET_KEY"] = "corpus-only"  # a loopback capture, never deployed
db = SQLAlchemy(app)


class Customer(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), nullable=False)
    email = db.Column(db.String(120), nullable=False)

    def __str__(self):
        return self.name


class Order(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    number = db.Column(db.String(20), nullable=False)
    customer_id = db.Column(db.Integer, db.ForeignKey("customer.id"))
    customer = db.relationship(Customer)
    status = db.Column(db.Enum("new", "shipped", "refunded", name="status"), default="new")
    total = db.Column(db.Numeric(10, 2))
    note = db.Column(db.Text)


class OrderView(ModelView):
    column_searchable_list = ["number"]
    column_filters = ["status"]


admin = Admin(app, name="Shop", template_mode=os.environ.get("SHOP_TEMPLATE_MODE", "bootstrap3"))
admin.add_view(OrderView(Order, db.session))
admin.add_view(ModelView(Customer, db.session))


@app.route("/")
def index():
    return redirect("/admin/")


with app.app_context():
    db.create_all()
    ada = Customer(name="Ada Lovelace", email="ada@example.test")
    grace = Customer(name="Grace Hopper", email="grace@example.test")
    db.session.add_all([ada, grace])
    for i, (who, status, total) in enumerate(
        [(ada, "new", "19.90"), (grace, "shipped", "250.00"), (ada, "refunded", "5.00")]
    ):
        db.session.add(Order(number=f"A-100{i + 1}", customer=who, status=status, total=total))
    db.session.commit()

if __name__ == "__main__":
    app.run("127.0.0.1", int(sys.argv[1]))
