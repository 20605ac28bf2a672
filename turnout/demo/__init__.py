"""The lab's ecommerce demo services, written for turnout, and their image catalog entries.

The lab's manifests name container images (``arapulido/ads-service:2.0``, ``arapulido/frontend``,
``ddtraining/discounts-fixed``, ``postgres``, the NGINX ingress controller) that turnout cannot
pull. These modules stand in for them as local processes with the same ports, environment
variables, routes and version differences, so the lab's pages can be followed unchanged.
:mod:`turnout.demo.catalog` maps each image to ``python -m turnout.demo.<service>``.
"""
